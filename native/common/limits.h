// Every limit tidekv enforces, in one place (README "Limits" lists them).
//
// A limit exists so that no input can make a length field wrap, a buffer
// overflow, or a single call run unbounded. The binding checks the key/value
// limits before an engine sees the bytes; engines check them again (cheaply)
// because they are also called from C++ tests and benchmarks.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tidekv {

// Keys: 1 .. kMaxKeyBytes bytes. The record header stores the key length in 16 bits.
inline constexpr size_t kMaxKeyBytes = 8 * 1024;
// Values: 0 .. kMaxValueBytes bytes. An engine may have a lower limit (the hybrid log's
// records must fit in one page); it reports its own via Engine::MaxValueBytes().
inline constexpr size_t kMaxValueBytes = 64u << 20;

// User metadata stored with a checkpoint (a stream processor's source offsets).
inline constexpr size_t kMaxCheckpointMetaBytes = 1u << 20;
// Checkpoints a store keeps at most (retainCheckpoints).
inline constexpr uint32_t kMaxRetainedCheckpoints = 10000;

// A batch (one crossing of the JS boundary) holds at most this many operations.
inline constexpr size_t kMaxBatchOps = 1u << 20;

// Hybrid log pages: a record never spans pages, so pageBytes bounds the record size.
inline constexpr size_t kMinPageBytes = 64 * 1024;
inline constexpr size_t kMaxPageBytes = 256u << 20;
// The in-memory log holds at least this many pages (mutable + read-only + one being flushed)
// and at most this many (its page tables are allocated up front: 16 bytes a page).
inline constexpr size_t kMinMemoryPages = 4;
inline constexpr size_t kMaxMemoryPages = 1u << 20;
// Segment files are the unit of on-disk log storage and of reclamation.
inline constexpr uint64_t kMaxSegmentBytes = uint64_t{1} << 32;

// Logical log addresses are 48 bits (the hash index packs them with a tag into 64).
inline constexpr int kAddressBits = 48;
inline constexpr uint64_t kMaxAddress = (uint64_t{1} << kAddressBits) - 1;

// The hash index doubles up to this many buckets (64 bytes each: 128 GiB).
inline constexpr int kMaxIndexBucketBits = 31;

static_assert(kMaxKeyBytes <= UINT16_MAX, "key length must fit the record header's u16");
static_assert(kMaxValueBytes <= UINT32_MAX / 2, "value length must fit the record header's u32");
static_assert(kMaxPageBytes <= UINT32_MAX, "record length is a u32");
static_assert(kMinPageBytes >= 8 * kMaxKeyBytes, "a page holds a record with the largest key and a value");

}  // namespace tidekv
