/**
 * A counter's value once it has stopped moving: read, then read again every `stepMs` until two
 * reads agree (at most `tries` steps). Tests use it before a change they then wait for ("one more
 * than before"), so that a late event of an earlier change cannot pass for this one's.
 */
export async function stillValue(read: () => Promise<number>, stepMs = 150, tries = 20): Promise<number> {
  let before = await read();
  for (let i = 0; i < tries; i++) {
    await new Promise((r) => setTimeout(r, stepMs));
    const now = await read();
    if (now === before) break;
    before = now;
  }
  return before;
}
