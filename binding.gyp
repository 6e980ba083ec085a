{
  "targets": [
    {
      "target_name": "tidekv",
      "sources": [
        "native/appendlog/append_log.cc",
        "native/appendlog/append_log_checkpoint.cc",
        "native/appendlog/append_log_merge.cc",
        "native/appendlog/hint_file.cc",
        "native/appendlog/keydir.cc",
        "native/appendlog/segment.cc",
        "native/common/checkpoint_format.cc",
        "native/common/crc32c.cc",
        "native/common/engine.cc",
        "native/common/env.cc",
        "native/common/env_posix.cc",
        "native/common/file_janitor.cc",
        "native/common/merge.cc",
        "native/common/record_format.cc",
        "native/common/status.cc",
        "native/common/varint.cc",
        "native/hybridlog/checkpoint.cc",
        "native/hybridlog/hash_index.cc",
        "native/hybridlog/hybrid_log_format.cc",
        "native/hybridlog/hybrid_log.cc",
        "native/hybridlog/paged_log.cc",
        "native/lsm/block_cache.cc",
        "native/lsm/bloom.cc",
        "native/lsm/compaction_picker.cc",
        "native/lsm/lsm_checkpoint.cc",
        "native/lsm/lsm_engine.cc",
        "native/lsm/memtable.cc",
        "native/lsm/merging_iterator.cc",
        "native/lsm/sstable.cc",
        "native/lsm/version.cc",
        "native/binding/addon.cc",
        "native/binding/args.cc",
        "native/binding/engine_handle.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_DISABLE_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=c++17"],
      "cflags": ["-O3", "-fno-exceptions", "-fvisibility=hidden"],
      "cflags_cc": ["-std=c++20", "-O3", "-fno-exceptions", "-Wall", "-Wextra", "-Wno-unused-parameter",
                    "-Wno-missing-field-initializers", "-Wno-cast-function-type"],
      "xcode_settings": {
        "CLANG_CXX_LANGUAGE_STANDARD": "c++20",
        "GCC_ENABLE_CPP_EXCEPTIONS": "NO",
        "OTHER_CPLUSPLUSFLAGS": ["-O3"]
      }
    }
  ]
}
