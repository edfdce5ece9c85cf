/** ISO-8601 UTC now; every timestamp column uses this form so that text order is time order. */
export const nowIso = (ms = Date.now()) => new Date(ms).toISOString();
