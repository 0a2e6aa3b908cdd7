# SPDX-License-Identifier: MIT
# Bare-metal AArch64 with Debian's gcc-aarch64-linux-gnu used freestanding
# (examples/firmware): no C library, no start files; -mno-outline-atomics
# keeps the atomics inline (otherwise they call libgcc's __aarch64_* helpers),
# -mstrict-align because data accesses are Device memory with the MMU off.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_ASM_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_C_FLAGS_INIT "-mcpu=cortex-a53 -mno-outline-atomics -mstrict-align -ffreestanding -fno-pic -fno-stack-protector -ffunction-sections -fdata-sections")
set(CMAKE_ASM_FLAGS_INIT "-mcpu=cortex-a53")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-nostdlib -nostartfiles -static -no-pie -Wl,--gc-sections -Wl,--build-id=none")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
