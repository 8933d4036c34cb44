/* sync_version.c - placeholder translation unit until the engine lands. */
int ce_sync_placeholder(void);
int ce_sync_placeholder(void) { return 0; }
