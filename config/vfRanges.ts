// VF index ranges in the device plugin's syntax ("0-3,6"), as sorted inclusive spans.

export interface Span {
  first: number;
  last: number;
}

/** Parses "0-3,6" into spans; returns an error string for reversed ranges. */
export function parseVfRange(text: string): Span[] | string {
  const spans: Span[] = [];
  for (const part of text.split(",")) {
    const [a, b] = part.split("-");
    const first = Number(a);
    const last = b === undefined ? first : Number(b);
    if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last)) return `"${part}" is not a VF index or range`;
    if (last < first) return `range "${part}" runs backwards`;
    spans.push({ first, last });
  }
  return spans.sort((x, y) => x.first - y.first);
}

/** Device-plugin text for spans: [{0,3},{6,6}] → "0-3,6". */
export function formatSpans(spans: readonly Span[]): string {
  return spans.map((s) => (s.first === s.last ? `${s.first}` : `${s.first}-${s.last}`)).join(",");
}

export function spanSize(spans: readonly Span[]): number {
  return spans.reduce((n, s) => n + s.last - s.first + 1, 0);
}

/** First overlapping pair among all spans, if any (spans need not be sorted). */
export function findOverlap(spans: readonly Span[]): [Span, Span] | undefined {
  const sorted = [...spans].sort((x, y) => x.first - y.first);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].first <= sorted[i - 1].last) return [sorted[i - 1], sorted[i]];
  }
  return undefined;
}
