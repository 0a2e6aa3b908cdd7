# SPDX-License-Identifier: MIT
# Cross build for Debian's s390x-linux-gnu toolchain (gcc-s390x-linux-gnu and
# libc6-dev-*-cross); test programs run under qemu-s390x-static with the
# cross C library as its prefix, no binfmt_misc needed (scripts/cross.sh).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR s390x)
set(CMAKE_C_COMPILER s390x-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER s390x-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH /usr/s390x-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-s390x-static -L /usr/s390x-linux-gnu)
# No host libraries through pkg-config (liburing, libpng, Criterion are the
# build machine's): the optional back-ends are left out.
set(ENV{PKG_CONFIG_LIBDIR} /usr/s390x-linux-gnu/lib/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")
