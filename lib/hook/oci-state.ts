/** The OCI state runc hands a hook on stdin. */

export interface OciState {
  id: string;
  bundle: string;
  pid?: number;
  annotations?: Record<string, string>;
}

export function parseOciState(text: string): OciState {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`gpumem-hook: the OCI state on stdin is not JSON: ${(e as Error).message}`);
  }
  const s = v as Partial<OciState> | null;
  if (!s || typeof s.id !== 'string' || typeof s.bundle !== 'string') {
    throw new Error('gpumem-hook: the OCI state on stdin has no "id" and "bundle"; run me as an OCI hook');
  }
  return s as OciState;
}
