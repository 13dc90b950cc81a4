import type { z } from 'zod';

import { envKeys } from './load.js';
import { configSchema } from './schema.js';

export interface ConfigRow {
  key: string;
  env: string | undefined;
  default: unknown;
  description: string;
}

/** Every setting with its env variable, default and description: the README's table is checked against this. */
export function describeConfig(): ConfigRow[] {
  const defaults = configSchema.parse({}) as Record<string, unknown>;
  const envFor = (key: string) => Object.entries(envKeys).find(([, v]) => v.key === key)?.[0];
  const rows: ConfigRow[] = [];
  const walk = (shape: Record<string, z.ZodType>, prefix: string, values: Record<string, unknown>) => {
    for (const [name, field] of Object.entries(shape)) {
      let inner = field as unknown as { _zod: { def: { type: string; innerType?: unknown; shape?: Record<string, z.ZodType> } } };
      while (inner._zod.def.innerType) inner = inner._zod.def.innerType as typeof inner;
      const key = `${prefix}${name}`;
      if (inner._zod.def.type === 'object') {
        walk(inner._zod.def.shape!, `${key}.`, (values[name] ?? {}) as Record<string, unknown>);
      } else {
        rows.push({ key, env: envFor(key), default: values[name], description: field.description ?? '' });
      }
    }
  };
  walk(configSchema.shape as unknown as Record<string, z.ZodType>, '', defaults);
  return rows;
}
