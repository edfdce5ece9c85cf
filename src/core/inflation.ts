// Bounds on what an uploaded archive may inflate to, for every format that unpacks one (npm tarballs, .nupkg and
// .snupkg zips, gems): a configured cap (WHARF_MAX_UNPACKED_SIZE) and a compression ratio (WHARF_MAX_COMPRESSION_RATIO)
// past a small floor. Real packages compress 2-10:1; deflate tops out near 1032:1, which is what a bomb uses
// (1 MB that inflates to 1 GiB), so a ratio bound stops one after a few megabytes instead of at the cap.
import { tooLarge } from './errors.ts';

export interface InflationLimits {
  /** Most bytes an archive may inflate to, whatever its size. */
  maxUnpacked: number;
  /** Most inflated bytes per compressed byte, once past INFLATION_FLOOR. */
  maxRatio: number;
}

/** Up to this many inflated bytes are always allowed (subject to the cap): tiny archives of text compress well. */
export const INFLATION_FLOOR = 16 * 1024 * 1024;

export const DEFAULT_INFLATION: InflationLimits = { maxUnpacked: 4 * 1024 ** 3, maxRatio: 100 };

/** The most `compressed` bytes may inflate to under `limits`. */
export function inflationAllowance(compressed: number, limits: InflationLimits): number {
  return Math.min(limits.maxUnpacked, Math.max(INFLATION_FLOOR, compressed * limits.maxRatio));
}

/** Throws TooLarge when `inflated` bytes out of `compressed` pass the cap or the ratio; `what` names the archive. */
export function checkInflation(inflated: number, compressed: number, limits: InflationLimits, what: string): void {
  if (inflated > limits.maxUnpacked) throw tooLarge(`${what} inflates to more than ${limits.maxUnpacked} bytes`);
  if (inflated > inflationAllowance(compressed, limits)) {
    throw tooLarge(`${what} inflates more than ${limits.maxRatio}:1 (${inflated} bytes out of ${compressed}): refused as a compression bomb`);
  }
}
