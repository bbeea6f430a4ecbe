/** A GPU of this host, as NVML lists it (the FFI layer fills it; decisions only read it). */
export interface HostGpu {
  index: number;
  uuid: string;
  totalBytes: number;
}

/**
 * A GPU or a MIG device of this host, as the inventory lists them: every GPU in NVML's order, each
 * followed by its MIG devices when it is in MIG mode.
 */
export interface InventoryGpu {
  /** Its position in the list. */
  index: number;
  /** "GPU-..." or, for a MIG device, "MIG-...". */
  uuid: string;
  totalBytes: number;
  /** The minor number of the device node it is reached through (/dev/nvidia<minor>); a MIG device: its GPU's. */
  minor: number;
  /** The index of its GPU in the same list; MIG devices only. */
  parent?: number;
  mig: boolean;
}
