// "Did you mean": the known name nearest to a misspelt one, by edit distance.

/** Levenshtein distance: insertions, deletions and substitutions. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * The candidate nearest to `word`; with `near`, only one close enough to be a likely typo
 * (at most a third of the word's letters wrong, and no more than 3).
 */
export function closest(word: string, candidates: Iterable<string>, near = true): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return !near || bestDistance <= Math.min(3, Math.max(1, Math.floor(word.length / 3))) ? best : undefined;
}

/** ", did you mean X?" or nothing. */
export const didYouMean = (word: string, candidates: Iterable<string>, show: (c: string) => string = (c) => c) => {
  const c = closest(word, candidates);
  return c ? `, did you mean ${show(c)}?` : "";
};
