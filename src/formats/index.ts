// The only list of formats. Adding a format = a folder under formats/ + one line here + its end-to-end test.
import type { Format } from './format.ts';
import { npmFormat } from './npm/format.ts';
import { ociFormat } from './oci/format.ts';

export const formats: readonly Format[] = [npmFormat, ociFormat];

export function formatOf(type: string): Format | undefined {
  return formats.find((f) => f.type === type);
}
