// LargeArray<T>: a fixed-size, zero-filled array of trivially copyable T in
// its own anonymous mapping, advised to use transparent huge pages.
//
// Why: the big random-access tables (the append log's key directory, the
// entries a recovery sorts through) take a page fault per 4 KiB when first
// written and a TLB miss on most accesses after. With 2 MiB pages both
// mostly go away. Untouched pages cost no memory, so a generous capacity is
// cheap. Where huge pages are not offered it is a plain mapping. Below
// kMinMappedBytes it is plain calloc: a huge page for a small table would
// cost 2 MiB of memory for a few KiB of data.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace tidekv {

template <class T>
class LargeArray {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  LargeArray() = default;
  ~LargeArray() { Release(); }
  LargeArray(LargeArray&& o) noexcept : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)), bytes_(std::exchange(o.bytes_, 0)) {}
  LargeArray& operator=(LargeArray&& o) noexcept {
    if (this != &o) {
      Release();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }
  LargeArray(const LargeArray&) = delete;
  LargeArray& operator=(const LargeArray&) = delete;

  // n zeroed elements; false (and empty) when the mapping is refused.
  bool Allocate(size_t n) {
    Release();
    if (n == 0) return true;
    if (n > SIZE_MAX / sizeof(T)) return false;
    if (n * sizeof(T) < kMinMappedBytes) {
      data_ = static_cast<T*>(std::calloc(n, sizeof(T)));
      if (data_ == nullptr) return false;
      size_ = n;
      bytes_ = 0;  // not a mapping
      return true;
    }
    constexpr size_t kHugePage = size_t{2} << 20;
    const size_t bytes = (n * sizeof(T) + kHugePage - 1) / kHugePage * kHugePage;
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return false;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, bytes, MADV_HUGEPAGE);  // advice only: ignored where not offered
#endif
    data_ = static_cast<T*>(p);
    size_ = n;
    bytes_ = bytes;
    return true;
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }
  size_t mapped_bytes() const { return bytes_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }

 private:
  static constexpr size_t kMinMappedBytes = size_t{4} << 20;
  void Release() {
    if (data_ != nullptr && bytes_ == 0) std::free(data_);
    if (data_ != nullptr && bytes_ != 0) munmap(data_, bytes_);
    data_ = nullptr;
    size_ = bytes_ = 0;
  }
  T* data_ = nullptr;
  size_t size_ = 0;
  size_t bytes_ = 0;
};

}  // namespace tidekv
