/* SPDX-License-Identifier: MIT */
/*
 * Preloaded into the 3D daemon by run-guest-gpu3d.sh and into the
 * gpu3d_virgl_render tests (tests/CMakeLists.txt): dlclose() keeps
 * every shared object loaded. When virglrenderer shuts EGL down, Mesa
 * unloads its llvmpipe driver while memory it still owns is referenced
 * only from that driver's globals; LeakSanitizer, scanning at exit, can
 * no longer see those references and reports the blocks as leaked from
 * "<unknown module>". With the driver kept, nothing is reported, so the
 * leak check stays on for everything of ours.
 */
int dlclose(void *handle);

int dlclose(void *handle)
{
	(void)handle;
	return 0;
}
