/* SPDX-License-Identifier: MIT */
/* Links the C and C++ header checks against the library and runs them. */
#include <stdio.h>

int vdev_headers_c(void);
int vdev_headers_cxx(void);

int main(void)
{
	int rc = vdev_headers_c() | vdev_headers_cxx();

	printf("public headers as C and C++: %s\n", rc == 0 ? "ok" : "FAILED");
	return rc;
}
