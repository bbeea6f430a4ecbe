/** A GPU of this host, as NVML lists it (the FFI layer fills it; decisions only read it). */
export interface HostGpu {
  index: number;
  uuid: string;
  totalBytes: number;
}

/** A GPU or MIG device of the host's inventory: MIG devices follow their GPU, which `parent` names. */
export interface InventoryGpu {
  /** Position in the inventory's list. */
  index: number;
  uuid: string;
  totalBytes: number;
  /** The /dev/nvidia<minor> node (a MIG device: its GPU's). */
  minor: number;
  /** index of its GPU, for a MIG device */
  parent?: number;
  mig: boolean;
}
