#include "common/env.h"

#include <algorithm>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/env_fault.h"
#include "common/env_mem.h"
#include "common/testing.h"

namespace tidekv {
namespace {

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::string ReadAt(File* f, uint64_t offset, size_t n) {
  std::string out(n, '\0');
  size_t got = 0;
  Status s = f->ReadAt(offset, n, out.data(), &got);
  if (!s.ok()) return "<" + s.ToString() + ">";
  out.resize(got);
  return out;
}

// The behaviour every Env must share. `root` is an empty scratch directory.
void ExerciseEnv(Env* env, const std::string& root) {
  ASSERT_OK(env->CreateDir(root));
  const std::string dir = JoinPath(root, "a/b");
  ASSERT_OK(env->CreateDir(dir));
  ASSERT_OK(env->CreateDir(dir));  // exists: fine
  EXPECT_TRUE(env->FileExists(dir));

  const std::string path = JoinPath(dir, "f1");
  std::unique_ptr<File> file;
  EXPECT_STATUS(env->OpenFile(path, OpenMode::kReadOnly, &file), kNotFound);
  EXPECT_STATUS(env->OpenFile(path, OpenMode::kReadWrite, &file), kNotFound);
  EXPECT_STATUS(env->OpenFile(JoinPath(root, "missing/f"), OpenMode::kCreate, &file), kIoError);
  EXPECT_FALSE(env->FileExists(path));
  ASSERT_OK(env->OpenFile(path, OpenMode::kCreateNew, &file));
  EXPECT_EQ(file->path(), path);
  EXPECT_TRUE(env->FileExists(path));
  {
    std::unique_ptr<File> again;
    EXPECT_STATUS(env->OpenFile(path, OpenMode::kCreateNew, &again), kIoError);
  }

  // Write, read, size; reads stop short only at the end of the file.
  ASSERT_OK(file->WriteAt(0, "hello world"));
  ASSERT_OK(file->WriteAt(6, "WORLD"));
  uint64_t size = 0;
  ASSERT_OK(file->Size(&size));
  EXPECT_EQ(size, 11u);
  EXPECT_EQ(ReadAt(file.get(), 0, 100), "hello WORLD");
  EXPECT_EQ(ReadAt(file.get(), 6, 3), "WOR");
  EXPECT_EQ(ReadAt(file.get(), 11, 5), "");
  EXPECT_EQ(ReadAt(file.get(), 1000, 5), "");
  // A write past the end leaves a zero-filled hole.
  ASSERT_OK(file->WriteAt(16, "xyz"));
  EXPECT_EQ(ReadAt(file.get(), 0, 100), std::string("hello WORLD\0\0\0\0\0xyz", 19));
  ASSERT_OK(file->Sync());
  ASSERT_OK(env->FileSize(path, &size));
  EXPECT_EQ(size, 19u);

  // Truncate shrinks, and growing again fills with zeros (not the old bytes).
  ASSERT_OK(file->Truncate(5));
  EXPECT_EQ(ReadAt(file.get(), 0, 100), "hello");
  ASSERT_OK(file->Truncate(8));
  EXPECT_EQ(ReadAt(file.get(), 0, 100), std::string("hello\0\0\0", 8));

  // A large write and read (crosses storage growth in MemEnv).
  std::mt19937_64 rng(testing::TestSeed());
  std::string big(3 << 20, '\0');
  for (char& c : big) c = static_cast<char>(rng());
  ASSERT_OK(file->WriteAt(100, big));
  EXPECT_TRUE(ReadAt(file.get(), 100, big.size()) == big);

  // Map: sees the bytes, and later writes within the range.
  ASSERT_OK(file->Truncate(3 * 4096));
  ASSERT_OK(file->WriteAt(4096, "mapped"));
  {
    std::unique_ptr<MappedRegion> region;
    ASSERT_OK(file->Map(4096, 2 * 4096, &region));
    ASSERT_EQ(region->size(), size_t{2 * 4096});
    EXPECT_EQ(std::string(region->data(), 6), "mapped");
    ASSERT_OK(file->WriteAt(4096 + 2, "PP"));
    ASSERT_OK(file->WriteAt(2 * 4096 + 100, "later"));
    EXPECT_EQ(std::string(region->data(), 6), "maPPed");
    EXPECT_EQ(std::string(region->data() + 4096 + 100, 5), "later");
    // The file may grow while mapped.
    ASSERT_OK(file->WriteAt(5 * 4096, "tail"));
    EXPECT_EQ(std::string(region->data(), 6), "maPPed");
    std::unique_ptr<MappedRegion> empty;
    ASSERT_OK(file->Map(0, 0, &empty));
    EXPECT_EQ(empty->size(), 0u);
    std::unique_ptr<MappedRegion> bad;
    EXPECT_STATUS(file->Map(100, 10, &bad), kInvalidArgument);         // unaligned
    EXPECT_STATUS(file->Map(4096, 100 * 4096, &bad), kInvalidArgument);  // past the end
  }
  file.reset();

  // Read-only handles cannot write.
  ASSERT_OK(env->OpenFile(path, OpenMode::kReadOnly, &file));
  EXPECT_STATUS(file->WriteAt(0, "x"), kIoError);
  EXPECT_EQ(ReadAt(file.get(), 4096, 6), "maPPed");
  file.reset();

  // kCreateTruncate empties; kCreate keeps.
  ASSERT_OK(env->OpenFile(path, OpenMode::kCreate, &file));
  ASSERT_OK(file->Size(&size));
  EXPECT_EQ(size, uint64_t{5 * 4096 + 4});
  ASSERT_OK(env->OpenFile(path, OpenMode::kCreateTruncate, &file));
  ASSERT_OK(file->Size(&size));
  EXPECT_EQ(size, 0u);
  ASSERT_OK(file->WriteAt(0, "v1"));
  file.reset();

  // Helpers.
  std::string contents;
  ASSERT_OK(ReadFileToString(env, path, &contents));
  EXPECT_EQ(contents, "v1");
  EXPECT_STATUS(ReadFileToString(env, JoinPath(dir, "nope"), &contents), kNotFound);
  ASSERT_OK(WriteFileAtomic(env, dir, "atomic", "first"));
  ASSERT_OK(WriteFileAtomic(env, dir, "atomic", "second"));
  ASSERT_OK(ReadFileToString(env, JoinPath(dir, "atomic"), &contents));
  EXPECT_EQ(contents, "second");
  EXPECT_FALSE(env->FileExists(JoinPath(dir, "atomic.tmp")));

  // List: direct children only, files and directories.
  ASSERT_OK(env->CreateDir(JoinPath(dir, "sub")));
  ASSERT_OK(env->OpenFile(JoinPath(dir, "sub/inner"), OpenMode::kCreate, &file));
  file.reset();
  std::vector<std::string> names;
  ASSERT_OK(env->ListDir(dir, &names));
  EXPECT_TRUE(Sorted(names) == (std::vector<std::string>{"atomic", "f1", "sub"}));
  ASSERT_OK(env->ListDir(JoinPath(root, "a"), &names));
  EXPECT_TRUE(names == std::vector<std::string>{"b"});
  EXPECT_STATUS(env->ListDir(JoinPath(root, "nope"), &names), kNotFound);

  // Rename replaces the destination; renaming a missing file is NotFound.
  const std::string renamed = JoinPath(dir, "f2");
  ASSERT_OK(env->RenameFile(path, renamed));
  EXPECT_FALSE(env->FileExists(path));
  ASSERT_OK(ReadFileToString(env, renamed, &contents));
  EXPECT_EQ(contents, "v1");
  ASSERT_OK(env->RenameFile(renamed, JoinPath(dir, "atomic")));
  ASSERT_OK(ReadFileToString(env, JoinPath(dir, "atomic"), &contents));
  EXPECT_EQ(contents, "v1");
  EXPECT_STATUS(env->RenameFile(renamed, path), kNotFound);
  ASSERT_OK(env->SyncDir(dir));
  EXPECT_FALSE(env->SyncDir(JoinPath(root, "nope")).ok());

  // Delete; open handles keep working on the unlinked file.
  ASSERT_OK(env->OpenFile(JoinPath(dir, "atomic"), OpenMode::kReadWrite, &file));
  ASSERT_OK(env->DeleteFile(JoinPath(dir, "atomic")));
  EXPECT_FALSE(env->FileExists(JoinPath(dir, "atomic")));
  EXPECT_EQ(ReadAt(file.get(), 0, 10), "v1");
  file.reset();
  EXPECT_STATUS(env->DeleteFile(JoinPath(dir, "atomic")), kNotFound);
  EXPECT_STATUS(env->FileSize(JoinPath(dir, "atomic"), &size), kNotFound);
  ASSERT_OK(env->ListDir(dir, &names));
  EXPECT_TRUE(names == std::vector<std::string>{"sub"});

  // Locks: exclusive, also within one process and across threads; released on destruction.
  const std::string lock_path = JoinPath(root, "LOCK");
  std::unique_ptr<FileLock> lock1, lock2;
  ASSERT_OK(env->LockFile(lock_path, &lock1));
  EXPECT_TRUE(env->FileExists(lock_path));
  Status second = env->LockFile(lock_path, &lock2);
  EXPECT_STATUS(second, kLocked);
  EXPECT_TRUE(second.message().find(lock_path) != std::string_view::npos);
  std::thread([&] { EXPECT_STATUS(env->LockFile(lock_path, &lock2), kLocked); }).join();
  lock1.reset();
  ASSERT_OK(env->LockFile(lock_path, &lock2));
  EXPECT_STATUS(env->LockFile(lock_path, &lock1), kLocked);
  lock2.reset();
  ASSERT_OK(env->LockFile(lock_path, &lock1));
}

// Concurrent writers at disjoint ranges of one file.
void ExerciseConcurrentWrites(Env* env, const std::string& root) {
  ASSERT_OK(env->CreateDir(root));
  std::unique_ptr<File> file;
  ASSERT_OK(env->OpenFile(JoinPath(root, "concurrent"), OpenMode::kCreateTruncate, &file));
  constexpr int kThreads = 4, kBlocks = 64, kBlockBytes = 1024;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string block(kBlockBytes, static_cast<char>('a' + t));
      for (int b = t; b < kThreads * kBlocks; b += kThreads) {
        EXPECT_OK(file->WriteAt(uint64_t{kBlockBytes} * b, block));
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int b = 0; b < kThreads * kBlocks; ++b) {
    EXPECT_EQ(ReadAt(file.get(), uint64_t{kBlockBytes} * b, kBlockBytes),
              std::string(kBlockBytes, static_cast<char>('a' + b % kThreads)));
  }
}

TEST(Env, Posix) {
  ExerciseEnv(Env::Posix(), JoinPath(testing::TempDir(), "env_posix"));
  ExerciseConcurrentWrites(Env::Posix(), JoinPath(testing::TempDir(), "env_posix_concurrent"));
}

TEST(Env, Mem) {
  MemEnv env;
  ExerciseEnv(&env, "/db");
  ExerciseConcurrentWrites(&env, "/concurrent");
  MemEnv relative;
  ExerciseEnv(&relative, "rel");
}

TEST(Env, FaultOverPosixUnarmed) {
  FaultEnv env(Env::Posix());
  ExerciseEnv(&env, JoinPath(testing::TempDir(), "env_fault"));
  ExerciseConcurrentWrites(&env, JoinPath(testing::TempDir(), "env_fault_concurrent"));
  EXPECT_EQ(env.faults_fired(), 0u);
}

TEST(Env, JoinPath) {
  EXPECT_EQ(JoinPath("a", "b"), "a/b");
  EXPECT_EQ(JoinPath("a/", "b"), "a/b");
  EXPECT_EQ(JoinPath("/", "b"), "/b");
  EXPECT_EQ(JoinPath("", "b"), "b");
}

TEST(Env, PosixZeroLengthFileMaps) {
  Env* env = Env::Posix();
  const std::string dir = JoinPath(testing::TempDir(), "env_posix_empty");
  ASSERT_OK(env->CreateDir(dir));
  std::unique_ptr<File> file;
  ASSERT_OK(env->OpenFile(JoinPath(dir, "empty"), OpenMode::kCreate, &file));
  std::unique_ptr<MappedRegion> region;
  ASSERT_OK(file->Map(0, 0, &region));
  EXPECT_EQ(region->size(), 0u);
  region.reset();
  EXPECT_STATUS(env->CreateDir(JoinPath(dir, "empty")), kIoError);  // a file is in the way
  std::unique_ptr<File> as_file;
  EXPECT_STATUS(env->OpenFile(dir, OpenMode::kReadOnly, &as_file), kIoError);  // a directory
}

TEST(Env, MemPathsAreNormalized) {
  MemEnv env;
  ASSERT_OK(env.CreateDir("/x//y/"));
  std::unique_ptr<File> file;
  ASSERT_OK(env.OpenFile("/x/./y//f", OpenMode::kCreate, &file));
  ASSERT_OK(file->WriteAt(0, "data"));
  EXPECT_TRUE(env.FileExists("/x/y/f"));
  EXPECT_TRUE(env.FileExists("/x/z/../y/f"));
  std::vector<std::string> names;
  ASSERT_OK(env.ListDir("/x/", &names));
  EXPECT_TRUE(names == std::vector<std::string>{"y"});
  ASSERT_OK(env.ListDir("/", &names));
  EXPECT_TRUE(names == std::vector<std::string>{"x"});
  std::string contents;
  ASSERT_OK(env.ReadAll("/x/y/f", &contents));
  EXPECT_EQ(contents, "data");
}

// --- MemEnv crash simulation -------------------------------------------------

constexpr int kCrashSeeds = 200;

std::string Pattern(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() | 1);  // never zero: zeros mark lost bytes
  return s;
}

TEST(MemEnvCrash, SyncedPrefixSurvivesUnsyncedTailMayNot) {
  const std::string synced = Pattern(3000, 1), unsynced = Pattern(5000, 2);
  bool saw_full = false, saw_synced_only = false, saw_torn = false;
  for (int seed = 0; seed < kCrashSeeds; ++seed) {
    MemEnv env;
    ASSERT_OK(env.CreateDir("/d"));
    std::unique_ptr<File> file;
    ASSERT_OK(env.OpenFile("/d/log", OpenMode::kCreate, &file));
    ASSERT_OK(env.SyncDir("/d"));
    ASSERT_OK(file->WriteAt(0, synced));
    ASSERT_OK(file->Sync());
    ASSERT_OK(file->WriteAt(synced.size(), unsynced));
    env.SimulateCrash(testing::TestSeed() + seed);

    std::string after;
    ASSERT_OK(env.ReadAll("/d/log", &after));
    ASSERT_TRUE(after.size() >= synced.size() && after.size() <= synced.size() + unsynced.size());
    ASSERT_TRUE(after.compare(0, synced.size(), synced) == 0);
    bool torn = false;
    for (size_t i = synced.size(); i < after.size(); ++i) {
      const char expected = unsynced[i - synced.size()];
      ASSERT_TRUE(after[i] == expected || after[i] == '\0');
      torn |= after[i] == '\0';
    }
    saw_full |= after.size() == synced.size() + unsynced.size() && !torn;
    saw_synced_only |= after.size() == synced.size();
    saw_torn |= torn;
  }
  EXPECT_TRUE(saw_full);
  EXPECT_TRUE(saw_synced_only);
  EXPECT_TRUE(saw_torn);
}

TEST(MemEnvCrash, OverwritesOfSyncedBytesAreOldOrNewPerSector) {
  const std::string v1 = Pattern(4096, 3), v2 = Pattern(4096, 4);
  bool saw_mix = false;
  for (int seed = 0; seed < kCrashSeeds; ++seed) {
    MemEnv env;
    std::unique_ptr<File> file;
    ASSERT_OK(env.OpenFile("/f", OpenMode::kCreate, &file));
    ASSERT_OK(env.SyncDir("/"));
    ASSERT_OK(file->WriteAt(0, v1));
    ASSERT_OK(file->Sync());
    ASSERT_OK(file->WriteAt(0, v2));
    env.SimulateCrash(seed);
    std::string after;
    ASSERT_OK(env.ReadAll("/f", &after));
    ASSERT_EQ(after.size(), v1.size());
    int old_sectors = 0;
    for (size_t s = 0; s < 8; ++s) {
      const std::string sector = after.substr(s * 512, 512);
      ASSERT_TRUE(sector == v1.substr(s * 512, 512) || sector == v2.substr(s * 512, 512));
      old_sectors += sector == v1.substr(s * 512, 512);
    }
    saw_mix |= old_sectors > 0 && old_sectors < 8;
  }
  EXPECT_TRUE(saw_mix);
}

TEST(MemEnvCrash, UnsyncedTruncateMayBeUndone) {
  const std::string data = Pattern(2000, 5);
  bool saw_kept = false, saw_undone = false;
  for (int seed = 0; seed < kCrashSeeds; ++seed) {
    MemEnv env;
    std::unique_ptr<File> file;
    ASSERT_OK(env.OpenFile("/f", OpenMode::kCreate, &file));
    ASSERT_OK(env.SyncDir("/"));
    ASSERT_OK(file->WriteAt(0, data));
    ASSERT_OK(file->Sync());
    ASSERT_OK(file->Truncate(700));
    env.SimulateCrash(seed);
    std::string after;
    ASSERT_OK(env.ReadAll("/f", &after));
    ASSERT_TRUE(after.size() >= 700 && after.size() <= data.size());
    ASSERT_TRUE(after == data.substr(0, after.size()));  // old bytes come back, never garbage
    saw_kept |= after.size() == 700;
    saw_undone |= after.size() == data.size();
  }
  EXPECT_TRUE(saw_kept);
  EXPECT_TRUE(saw_undone);
}

TEST(MemEnvCrash, UnsyncedNamespaceChangesMayBeUndone) {
  bool saw_created = false, saw_lost = false, saw_deleted = false, saw_kept = false;
  for (int seed = 0; seed < kCrashSeeds; ++seed) {
    MemEnv env;
    ASSERT_OK(env.CreateDir("/d"));
    std::unique_ptr<File> file;
    ASSERT_OK(env.OpenFile("/d/old", OpenMode::kCreate, &file));
    ASSERT_OK(file->WriteAt(0, "old"));
    ASSERT_OK(file->Sync());
    ASSERT_OK(env.SyncDir("/d"));
    ASSERT_OK(env.OpenFile("/d/new", OpenMode::kCreate, &file));  // no SyncDir
    ASSERT_OK(file->WriteAt(0, "new"));
    ASSERT_OK(file->Sync());
    ASSERT_OK(env.DeleteFile("/d/old"));
    env.SimulateCrash(seed);
    const bool has_new = env.FileExists("/d/new"), has_old = env.FileExists("/d/old");
    saw_created |= has_new;
    saw_lost |= !has_new;
    saw_deleted |= !has_old;
    saw_kept |= has_old;
    std::string contents;
    if (has_new) {
      ASSERT_OK(env.ReadAll("/d/new", &contents));
      EXPECT_EQ(contents, "new");  // its data was synced
    }
    if (has_old) {
      ASSERT_OK(env.ReadAll("/d/old", &contents));
      EXPECT_EQ(contents, "old");
    }
  }
  EXPECT_TRUE(saw_created && saw_lost && saw_deleted && saw_kept);
}

TEST(MemEnvCrash, RenameFollowedBySyncDirSurvives) {
  for (int seed = 0; seed < kCrashSeeds; ++seed) {
    MemEnv env;
    ASSERT_OK(env.CreateDir("/d"));
    std::unique_ptr<File> file;
    ASSERT_OK(env.OpenFile("/d/tmp", OpenMode::kCreate, &file));
    ASSERT_OK(file->WriteAt(0, "payload"));
    ASSERT_OK(file->Sync());
    ASSERT_OK(env.RenameFile("/d/tmp", "/d/final"));
    ASSERT_OK(env.SyncDir("/d"));
    // Later unsynced activity must not disturb it.
    ASSERT_OK(env.OpenFile("/d/other", OpenMode::kCreate, &file));
    ASSERT_OK(file->WriteAt(0, "x"));
    env.SimulateCrash(seed);
    std::string contents;
    ASSERT_OK(env.ReadAll("/d/final", &contents));
    EXPECT_EQ(contents, "payload");
    EXPECT_FALSE(env.FileExists("/d/tmp"));
  }
}

TEST(MemEnvCrash, RenameAcrossDirectoriesNeedsBothSynced) {
  bool saw_src = false, saw_dst = false;
  for (int seed = 0; seed < kCrashSeeds; ++seed) {
    MemEnv env;
    ASSERT_OK(env.CreateDir("/a"));
    ASSERT_OK(env.CreateDir("/b"));
    std::unique_ptr<File> file;
    ASSERT_OK(env.OpenFile("/a/f", OpenMode::kCreate, &file));
    ASSERT_OK(file->Sync());
    ASSERT_OK(env.SyncDir("/a"));
    ASSERT_OK(env.RenameFile("/a/f", "/b/f"));
    ASSERT_OK(env.SyncDir("/a"));  // only one side
    env.SimulateCrash(seed);
    const bool src = env.FileExists("/a/f"), dst = env.FileExists("/b/f");
    EXPECT_TRUE(src != dst);  // a rename is atomic: exactly one name
    saw_src |= src;
    saw_dst |= dst;
  }
  EXPECT_TRUE(saw_src && saw_dst);
}

TEST(MemEnvCrash, WriteFileAtomicLeavesOldOrNew) {
  const std::string old_contents = Pattern(1500, 6), new_contents = Pattern(2500, 7);
  // Interrupt WriteFileAtomic at every step (a failed write, sync or rename),
  // or let it finish; then crash. The file holds the old or the new contents.
  std::vector<FaultPlan> plans(1);  // the unarmed plan
  for (uint64_t bytes : {0, 1, 1000, 2499}) {
    plans.emplace_back();
    plans.back().fail_writes_after_bytes = bytes;
  }
  plans.emplace_back();
  plans.back().fail_sync = true;
  plans.emplace_back();
  plans.back().fail_rename = true;
  int saw_old = 0, saw_new = 0;
  for (size_t p = 0; p < plans.size(); ++p) {
    for (int seed = 0; seed < kCrashSeeds / 4; ++seed) {
      MemEnv mem;
      FaultEnv env(&mem);
      ASSERT_OK(env.CreateDir("/db"));
      ASSERT_OK(WriteFileAtomic(&env, "/db", "MANIFEST", old_contents));
      env.Arm(plans[p]);
      const bool finished = WriteFileAtomic(&env, "/db", "MANIFEST", new_contents).ok();
      EXPECT_EQ(finished, p == 0);
      mem.SimulateCrash(seed * 7919 + p);
      std::string after;
      ASSERT_OK(mem.ReadAll("/db/MANIFEST", &after));
      ASSERT_TRUE(after == old_contents || after == new_contents);
      if (finished) EXPECT_TRUE(after == new_contents);
      saw_old += after == old_contents;
      saw_new += after == new_contents;
    }
  }
  EXPECT_TRUE(saw_old > 0 && saw_new > 0);
}

TEST(MemEnvCrash, HandlesDetachAndLocksRelease) {
  MemEnv env;
  std::unique_ptr<File> file;
  ASSERT_OK(env.OpenFile("/f", OpenMode::kCreate, &file));
  ASSERT_OK(file->Truncate(8192));
  ASSERT_OK(file->WriteAt(0, "before"));
  ASSERT_OK(file->Sync());
  ASSERT_OK(env.SyncDir("/"));
  std::unique_ptr<MappedRegion> region;
  ASSERT_OK(file->Map(0, 8192, &region));
  std::unique_ptr<FileLock> lock;
  ASSERT_OK(env.LockFile("/LOCK", &lock));

  env.SimulateCrash(42);
  // The old handle and mapping still work, but no longer reach the Env.
  ASSERT_OK(file->WriteAt(0, "AFTER!"));
  EXPECT_EQ(std::string(region->data(), 6), "AFTER!");
  std::string contents;
  ASSERT_OK(env.ReadAll("/f", &contents));
  EXPECT_EQ(contents.substr(0, 6), "before");
  // The crashed process's lock is gone; its destructor must not drop a new holder's lock.
  std::unique_ptr<FileLock> relock;
  ASSERT_OK(env.LockFile("/LOCK", &relock));
  lock.reset();
  std::unique_ptr<FileLock> third;
  EXPECT_STATUS(env.LockFile("/LOCK", &third), kLocked);
  region.reset();
  file.reset();
}

TEST(MemEnvCrash, PreallocatedFile) {
  // A segment-like file: sized up front, written sparsely, mapped, synced.
  MemEnv env;
  std::unique_ptr<File> file;
  ASSERT_OK(env.OpenFile("/seg", OpenMode::kCreate, &file));
  ASSERT_OK(file->Truncate(256u << 20));
  ASSERT_OK(file->WriteAt(0, "head"));
  ASSERT_OK(file->WriteAt((256u << 20) - 4, "tail"));
  std::unique_ptr<MappedRegion> region;
  ASSERT_OK(file->Map(0, 256u << 20, &region));
  ASSERT_OK(file->WriteAt(1 << 20, "middle"));
  EXPECT_EQ(std::string(region->data() + (1 << 20), 6), "middle");
  ASSERT_OK(file->Sync());
  ASSERT_OK(env.SyncDir("/"));
  env.SimulateCrash(7);
  std::unique_ptr<File> reopened;
  ASSERT_OK(env.OpenFile("/seg", OpenMode::kReadOnly, &reopened));
  uint64_t size = 0;
  ASSERT_OK(reopened->Size(&size));
  EXPECT_EQ(size, uint64_t{256} << 20);
  EXPECT_EQ(ReadAt(reopened.get(), 0, 4), "head");
  EXPECT_EQ(ReadAt(reopened.get(), 1 << 20, 6), "middle");
  EXPECT_EQ(ReadAt(reopened.get(), (256u << 20) - 8, 8), std::string("\0\0\0\0tail", 8));
}

TEST(MemEnv, TestHelpers) {
  MemEnv env;
  std::unique_ptr<File> file;
  ASSERT_OK(env.OpenFile("/f", OpenMode::kCreate, &file));
  ASSERT_OK(file->WriteAt(0, "abcdef"));
  ASSERT_OK(file->Sync());
  ASSERT_OK(env.SyncDir("/"));
  ASSERT_OK(env.FlipBit("/f", 1, 0));  // 'b' ^ 1 = 'c'
  std::string contents;
  ASSERT_OK(env.ReadAll("/f", &contents));
  EXPECT_EQ(contents, "accdef");
  EXPECT_EQ(ReadAt(file.get(), 0, 6), "accdef");
  EXPECT_STATUS(env.FlipBit("/f", 6, 0), kInvalidArgument);
  EXPECT_STATUS(env.FlipBit("/f", 0, 8), kInvalidArgument);
  EXPECT_STATUS(env.FlipBit("/nope", 0, 0), kNotFound);
  // Media corruption survives a crash.
  env.SimulateCrash(1);
  ASSERT_OK(env.ReadAll("/f", &contents));
  EXPECT_EQ(contents, "accdef");
  ASSERT_OK(env.Overwrite("/f", "xyz"));
  ASSERT_OK(env.ReadAll("/f", &contents));
  EXPECT_EQ(contents, "xyz");
  EXPECT_STATUS(env.Overwrite("/nope", "x"), kNotFound);
  EXPECT_STATUS(env.ReadAll("/nope", &contents), kNotFound);
}

TEST(MemEnv, MappedFileGrowthIsBounded) {
  MemEnv env;
  std::unique_ptr<File> file;
  ASSERT_OK(env.OpenFile("/f", OpenMode::kCreate, &file));
  ASSERT_OK(file->Truncate(4096));
  std::unique_ptr<MappedRegion> region;
  ASSERT_OK(file->Map(0, 4096, &region));
  const char* before = region->data();
  // Growth inside the reservation keeps the bytes in place.
  ASSERT_OK(file->Truncate(64u << 20));
  ASSERT_OK(file->WriteAt((64u << 20) - 4, "end!"));
  EXPECT_TRUE(region->data() == before);
  // Growth past it while mapped is refused, not done by moving the bytes.
  Status s = file->Truncate((uint64_t{1} << 30) + 4096);  // the first Map reserved 1 GiB
  EXPECT_STATUS(s, kIoError);
  EXPECT_TRUE(s.message().find("mapped") != std::string_view::npos);
  region.reset();
  ASSERT_OK(file->Truncate((uint64_t{1} << 30) + 4096));  // allowed once unmapped (address space only)
  EXPECT_EQ(ReadAt(file.get(), (64u << 20) - 4, 8), std::string("end!\0\0\0\0", 8));
  ASSERT_OK(file->Truncate(0));
}

// --- FaultEnv ------------------------------------------------------------------

TEST(FaultEnv, NoSpaceAfterBytesTearsTheCrossingWrite) {
  MemEnv mem;
  FaultEnv env(&mem);
  std::unique_ptr<File> file;
  ASSERT_OK(env.OpenFile("/f", OpenMode::kCreate, &file));  // opened before arming: still affected
  FaultPlan plan;
  plan.fail_writes_after_bytes = 10;
  env.Arm(plan);
  ASSERT_OK(file->WriteAt(0, "0123456"));
  Status s = file->WriteAt(7, "789abcdef");
  EXPECT_STATUS(s, kIoError);
  EXPECT_TRUE(s.message().find("No space") != std::string_view::npos);
  EXPECT_STATUS(file->WriteAt(10, "z"), kIoError);
  EXPECT_EQ(env.faults_fired(), 2u);
  std::string contents;
  ASSERT_OK(mem.ReadAll("/f", &contents));
  EXPECT_EQ(contents, "0123456789");  // the torn prefix reached the file
  env.Disarm();
  ASSERT_OK(file->WriteAt(10, "ok"));
  EXPECT_EQ(env.faults_fired(), 2u);
}

TEST(FaultEnv, FailingSyncOpenAndRename) {
  MemEnv mem;
  FaultEnv env(&mem);
  std::unique_ptr<File> file;
  ASSERT_OK(env.OpenFile("/f", OpenMode::kCreate, &file));
  FaultPlan plan;
  plan.fail_sync = true;
  env.Arm(plan);
  EXPECT_STATUS(file->Sync(), kIoError);
  EXPECT_STATUS(env.SyncDir("/"), kIoError);
  EXPECT_EQ(env.faults_fired(), 2u);

  plan = FaultPlan();
  plan.fail_rename = true;
  env.Arm(plan);
  ASSERT_OK(file->Sync());
  EXPECT_STATUS(env.RenameFile("/f", "/g"), kIoError);
  EXPECT_TRUE(env.FileExists("/f"));
  EXPECT_FALSE(env.FileExists("/g"));
  EXPECT_EQ(env.faults_fired(), 3u);

  plan = FaultPlan();
  plan.fail_open = true;
  env.Arm(plan);
  std::unique_ptr<File> other;
  EXPECT_STATUS(env.OpenFile("/h", OpenMode::kCreate, &other), kIoError);
  EXPECT_FALSE(env.FileExists("/h"));
  EXPECT_EQ(env.faults_fired(), 4u);
  env.Disarm();
  ASSERT_OK(env.RenameFile("/f", "/g"));
}

TEST(FaultEnv, BitFlipOnRead) {
  MemEnv mem;
  FaultEnv env(&mem);
  std::unique_ptr<File> file;
  ASSERT_OK(env.OpenFile("/f", OpenMode::kCreate, &file));
  ASSERT_OK(file->Truncate(8192));
  ASSERT_OK(file->WriteAt(0, "abcdefgh"));
  FaultPlan plan;
  plan.flip_bit_at_offset = 4100;
  env.Arm(plan);
  EXPECT_EQ(ReadAt(file.get(), 0, 8), "abcdefgh");  // does not cover the offset
  EXPECT_EQ(env.faults_fired(), 0u);
  plan.flip_bit_at_offset = 2;
  env.Arm(plan);
  EXPECT_EQ(ReadAt(file.get(), 0, 8), "abbdefgh");  // 'c' ^ 1
  EXPECT_EQ(ReadAt(file.get(), 2, 1), "b");
  EXPECT_EQ(env.faults_fired(), 2u);
  std::string contents;
  ASSERT_OK(mem.ReadAll("/f", &contents));
  EXPECT_EQ(contents.substr(0, 8), "abcdefgh");  // the file itself is intact
  // Reads through a mapping are corrupted too.
  std::unique_ptr<MappedRegion> region;
  ASSERT_OK(file->Map(0, 4096, &region));
  EXPECT_EQ(std::string(region->data(), 8), "abbdefgh");
  EXPECT_EQ(env.faults_fired(), 3u);
  ASSERT_OK(file->Map(4096, 4096, &region));  // not covering: the real mapping
  EXPECT_EQ(env.faults_fired(), 3u);
}

TEST(FaultEnv, PathFilterScopesFaults) {
  MemEnv mem;
  FaultEnv env(&mem);
  ASSERT_OK(env.CreateDir("/db"));
  std::unique_ptr<File> segment, manifest;
  ASSERT_OK(env.OpenFile("/db/segment-1", OpenMode::kCreate, &segment));
  ASSERT_OK(env.OpenFile("/db/MANIFEST", OpenMode::kCreate, &manifest));
  FaultPlan plan;
  plan.path_filter = "segment";
  plan.fail_sync = true;
  plan.fail_writes_after_bytes = 0;
  plan.fail_open = true;
  plan.fail_rename = true;
  env.Arm(plan);
  EXPECT_STATUS(segment->Sync(), kIoError);
  EXPECT_STATUS(segment->WriteAt(0, "x"), kIoError);
  EXPECT_OK(manifest->Sync());
  EXPECT_OK(manifest->WriteAt(0, "fine"));
  EXPECT_OK(env.SyncDir("/db"));  // the directory path does not match
  std::unique_ptr<File> f;
  EXPECT_STATUS(env.OpenFile("/db/segment-2", OpenMode::kCreate, &f), kIoError);
  EXPECT_OK(env.OpenFile("/db/other", OpenMode::kCreate, &f));
  EXPECT_STATUS(env.RenameFile("/db/other", "/db/segment-3"), kIoError);
  EXPECT_OK(env.RenameFile("/db/other", "/db/other2"));
  EXPECT_EQ(env.faults_fired(), 4u);
}

}  // namespace
}  // namespace tidekv
