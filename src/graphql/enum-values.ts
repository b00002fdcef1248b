// The internal values of the SDL enums whose stored spelling differs from the value's name
// (`EOT` ⇄ 'eot'), written once: the executable schema maps them (resolvers/enums.ts) and codegen.ts
// hands them to the type generator, so the generated `Pooling`, `Device` and `ProbeMethod` types are
// the stored spellings resolvers pass through and arguments arrive in. A leaf (no imports): codegen
// loads it outside the application.

export const POOLING_VALUES = {
  EOT: 'eot',
  MEAN: 'mean',
  CONCEPT: 'concept',
  CONCEPT_LAST: 'concept_last',
  SEQUENCE_MEAN: 'sequence_mean',
  SPATIAL_MEAN: 'spatial_mean',
  GUIDED_SPATIAL_MEAN: 'guided_spatial_mean',
  WORD: 'word',
} as const;

export const DEVICE_VALUES = { CPU: 'cpu', CUDA: 'cuda', WEBGPU: 'webgpu' } as const;

export const PROBE_METHOD_VALUES = { RIDGE_LOO_V1: 'ridge-loo/v1', RIDGE_LOO_V2: 'ridge-loo/v2' } as const;

/** Per SDL enum name, its values' internal values (the type generator's `enumValues`). */
export const ENUM_INTERNAL_VALUES = {
  Pooling: POOLING_VALUES,
  Device: DEVICE_VALUES,
  ProbeMethod: PROBE_METHOD_VALUES,
} as const;
