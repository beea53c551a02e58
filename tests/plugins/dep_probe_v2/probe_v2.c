/*
 * dep_probe_v2 — the same probe built again with another reply, so a
 * hot-reload test can drop a changed build of one plugin into a folder.
 */
#define DEP_PROBE_VERSION 2
#include "../dep_probe/probe.c"
