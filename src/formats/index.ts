// The only list of formats. Adding a format = a folder under formats/ + one line here + its end-to-end test.
import type { Format } from './format.ts';
import { rubygemsFormat } from './rubygems/format.ts';
import { npmFormat } from './npm/format.ts';
import { ociFormat } from './oci/format.ts';
import { mavenFormat } from './maven/format.ts';
import { nugetFormat } from './nuget/format.ts';
import { genericFormat } from './generic/format.ts';

export const formats: readonly Format[] = [npmFormat, ociFormat, mavenFormat, rubygemsFormat, nugetFormat, genericFormat];

export function formatOf(type: string): Format | undefined {
  return formats.find((f) => f.type === type);
}
