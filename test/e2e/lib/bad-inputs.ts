// Generated bad input for the create step: values no size or percent grammar accepts, keys in
// gpumem's namespace it does not understand, GPUs the container does not have. Every one must be
// refused with one line naming its key. Deterministic: the same list on every run.

export interface BadInput {
  /** The key the refusal must name. */
  key: string
  annotations: Record<string, string>
  env: string[]
  /** Refused only on a host whose GPUs are HOST_GPUS (past GPU 0's 24 GiB). */
  needsHostGpus?: boolean
}

// A host of three GPUs (24, 40 and 80 GiB: FAKE_NVML_DEVICE_MEMS in the tests) seen whole.
export const HOST_GPUS = '24g,40g,80g'

const units = ['q', 'parsec', 'gx', 'bb', 'mm', 'k8', 'ibg', 'gg', 'bi', 'e3', 'mib2', 'g/s', 'kbps', 'ti b', 'm m', 'ｍ', 'g\u200b', 'G\t1']
const numbers = ['1', '8', '64', '512', '3.5', '.5', '1.', '1,5', '1_000', '+64']
const garbage = [
  '', ' ', '\t', '\n', 'g', 'm', '%', 'b', 'ib', 'gb', 'abc', 'none', 'null', 'undefined', 'NaN', 'Infinity', '-Infinity',
  'true', 'false', '[]', '{}', '"64m"', "'64m'", '64m;rm -rf /', '$(echo 64m)', '`64m`', '64m\n128m', '6\n4m',
  '64m\r', '\u0000', '64m\u0000', '６４m', '٦٤m', '64 m b', '64mb64', 'm64', 'g8', '0x40m', '0b101', '0o17', '1e3m',
  '1e9', '0x10', '%50', '50%%', '50 %%', '5%0', '%', '-%', '+%', '1/2', '64-m', '64m-', '--64m', '64..0m',
  '9'.repeat(40), '1'.repeat(10_000), 'x'.repeat(300), '64' + 'm'.repeat(100),
]
// Zero, negative, past 100 %, past 64 bits; then past the 24 GiB GPU 0.
const outOfRange = [
  '0', '0b', '0k', '0m', '0g', '0%', '0.0%', '-0', '-1', '-64m', '-1g', '-50%', '-0.5g', '101%', '150%', '1000%', '100.5%',
  '18446744073709551616', '18446744073709551615k', '17179869184g', '99999999999999999999999', '16777216t',
]
const pastGpu0 = ['25g', '30g', '24577m', '1t', '1p', '999t']

const valueKeys = ['gpumem.io/limit', 'gpumem.io/limit.0']
const envKeys = ['GPUMEM_LIMIT', 'GPUMEM_LIMIT_0']

const badAnnotationKeys = [
  'gpumem.io/limits', 'gpumem.io/Limit', 'gpumem.io/LIMIT', 'GPUMEM.IO/limit', 'Gpumem.io/limit', 'gpumem.IO/limit',
  'gpumem.io/limit.3', 'gpumem.io/limit.63', 'gpumem.io/limit.64', 'gpumem.io/limit.-1', 'gpumem.io/limit.x',
  'gpumem.io/limit.', 'gpumem.io/limit..0', 'gpumem.io/limit.0.1', 'gpumem.io/limit_0', 'gpumem.io/limit-0',
  'gpumem.io/', 'gpumem.io/budget', 'gpumem.io/memory', 'gpumem.io/max', 'gpumem.io/limit ', 'gpumem.io/ limit',
  'gpumem.io/limit\t', 'gpumem.io/lim', 'gpumem.io/limitt', 'gpumem.io/limit.GPU-0', 'gpumem.io/limit.1e1',
  'gpumem.io/limit.+1', 'gpumem.io/limit.0x1', 'gpumem.io/limit.٣',
]
const badEnvKeys = [
  'GPUMEM_LIMITS', 'GPUMEM_LIMIT_3', 'GPUMEM_LIMIT_64', 'GPUMEM_LIMIT_X', 'GPUMEM_LIMIT_', 'GPUMEM_LIMIT_0_1', 'GPUMEM_LIMIT_-1',
  'GPUMEM_STATE_DIR', 'GPUMEM_', 'GPUMEM_DEBUG', 'GPUMEM_CONFIG', 'GPUMEM_MAX', 'GPUMEM_LIMIT__0', 'GPUMEM_LIMIT_00x',
]

export function badInputs(): BadInput[] {
  const out: BadInput[] = []
  const values = [...numbers.flatMap(n => units.map(u => n + u)), ...garbage, ...outOfRange]
  for (const v of values) {
    for (const key of valueKeys) out.push({ key, annotations: { [key]: v }, env: [] })
    for (const key of envKeys) out.push({ key, annotations: {}, env: [`${key}=${v}`] })
  }
  for (const v of pastGpu0) {
    for (const key of valueKeys) out.push({ key, annotations: { [key]: v }, env: [], needsHostGpus: true })
    for (const key of envKeys) out.push({ key, annotations: {}, env: [`${key}=${v}`], needsHostGpus: true })
  }
  for (const key of badAnnotationKeys) for (const v of ['64m', '50%', '1g']) out.push({ key, annotations: { [key]: v }, env: [] })
  for (const key of badEnvKeys) for (const v of ['64m', '50%', '1g']) out.push({ key, annotations: {}, env: [`${key}=${v}`] })
  // A bad key next to a good one: the good one must not carry the container through.
  for (const key of badAnnotationKeys) out.push({ key, annotations: { 'gpumem.io/limit': '64m', [key]: '64m' }, env: [] })
  for (const key of badEnvKeys) out.push({ key, annotations: { 'gpumem.io/limit': '64m' }, env: [`${key}=64m`] })
  return out
}
