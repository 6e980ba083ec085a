// CRC32C (Castagnoli, polynomial 0x1EDC6F41, reflected 0x82F63B78), the checksum
// of every record and file tidekv writes.
//
// Uses the SSE4.2 crc32 instruction when the CPU has it (checked once at
// startup), else a table-driven portable version. Both give identical results;
// crc32c_test.cc checks them against published test vectors.
//
// Thread-safe, no state.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tidekv::crc32c {

// Returns the CRC32C of `data` continued from `crc` (the CRC of the bytes before).
// Extend(Extend(0, a), b) == Extend(0, a + b).
uint32_t Extend(uint32_t crc, const void* data, size_t n);
inline uint32_t Value(const void* data, size_t n) { return Extend(0, data, n); }

// The portable implementation, exposed so tests can compare the two paths.
uint32_t ExtendPortable(uint32_t crc, const void* data, size_t n);
// True when Extend uses the hardware instruction.
bool IsHardwareAccelerated();

}  // namespace tidekv::crc32c
