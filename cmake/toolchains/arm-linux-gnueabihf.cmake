# SPDX-License-Identifier: MIT
# Cross build for Debian's arm-linux-gnueabihf toolchain (gcc-arm-linux-gnueabihf and
# libc6-dev-*-cross); test programs run under qemu-arm-static with the
# cross C library as its prefix, no binfmt_misc needed (scripts/cross.sh).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_CXX_COMPILER arm-linux-gnueabihf-g++)
set(CMAKE_FIND_ROOT_PATH /usr/arm-linux-gnueabihf)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-arm-static -L /usr/arm-linux-gnueabihf)
# No host libraries through pkg-config (liburing, libpng, Criterion are the
# build machine's): the optional back-ends are left out.
set(ENV{PKG_CONFIG_LIBDIR} /usr/arm-linux-gnueabihf/lib/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")
