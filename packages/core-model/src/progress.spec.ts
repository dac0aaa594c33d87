import { formatDuration, Progress, type ProgressStream } from './progress';

class FakeStream implements ProgressStream {
  text = '';
  constructor(
    readonly isTTY: boolean,
    readonly columns?: number,
  ) {}
  write(s: string): boolean {
    this.text += s;
    return true;
  }
}

describe('Progress', () => {
  it('writes a JSON line every N steps and at the total when stderr is not a TTY', () => {
    let t = 0;
    const s = new FakeStream(false);
    const p = new Progress({ label: 'tune', total: 25, every: 10, stream: s, now: () => t });
    for (let step = 1; step <= 25; step++) {
      t += 500; // 2 steps/s
      p.update(step, { reward: 0.123456, loss: 2 });
    }
    p.finish();
    const lines = s.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    // step 10: 10 steps in 5 s → 2 steps/s, 15 left → 7.5 s → 8 (rounded).
    expect(lines).toEqual([
      { progress: 'tune', step: 10, total: 25, steps_per_s: 2, eta_s: 8, reward: 0.123456, loss: 2 },
      { progress: 'tune', step: 20, total: 25, steps_per_s: 2, eta_s: 3, reward: 0.123456, loss: 2 },
      { progress: 'tune', step: 25, total: 25, steps_per_s: 2, eta_s: 0, reward: 0.123456, loss: 2 },
    ]);
  });

  it('finish() flushes an unreported last step once', () => {
    let t = 0;
    const s = new FakeStream(false);
    const p = new Progress({ label: 'x', total: 100, every: 10, stream: s, now: () => t });
    t = 1000;
    p.update(7);
    p.finish();
    expect(
      s.text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).step),
    ).toEqual([7]);
  });

  it('redraws one line on a TTY with bar, rate, ETA and named values, throttled', () => {
    let t = 0;
    const s = new FakeStream(true);
    // Resumed at step 100 of 1000: rates count from there.
    const p = new Progress({ label: 'tune', total: 1000, startStep: 100, stream: s, now: () => t, minRedrawMs: 100 });
    t = 10_000;
    p.update(150, { reward: 0.53249 }); // 50 steps / 10 s = 5 step/s, 850 left → 170 s
    t = 10_050;
    p.update(151); // within 100 ms: not drawn
    // 150/1000 of a 20-cell bar = 3 cells.
    expect(s.text).toBe(
      `\r\x1b[2Ktune [${'█'.repeat(3)}${'░'.repeat(17)}]   150/1000  5.00 step/s  ETA 2m50s  reward=0.5325`,
    );
    p.finish();
    expect(s.text.endsWith('\n')).toBe(true);
    expect(s.text.split('\r\x1b[2K')).toHaveLength(3);
  });

  it('cuts the line to the terminal width', () => {
    const s = new FakeStream(true, 20);
    const p = new Progress({ label: 'tune', total: 10, stream: s, now: () => 0 });
    p.update(1);
    expect(p.line()).toHaveLength(19);
  });

  it('formats durations', () => {
    expect([formatDuration(45), formatDuration(275), formatDuration(7380), formatDuration(Infinity)]).toEqual([
      '45s',
      '4m35s',
      '2h03m',
      '?',
    ]);
  });
});
