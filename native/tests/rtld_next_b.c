/* Second definition of probe(): what RTLD_NEXT from librtld-next-a.so must find. */
int probe(void) { return 2; }
