/** A GPU of this host, as NVML lists it (the FFI layer fills it; decisions only read it). */
export interface HostGpu {
  index: number;
  uuid: string;
  totalBytes: number;
}
