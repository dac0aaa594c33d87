// The panoptic benchmark's generator: deterministic, COCO-panoptic-shaped, and read back by the pq command to the
// numbers the library gives on the same maps in memory (the timing needs the built CLI: `rewards-metrics bench`).
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pqFromFiles } from '../cli/pq';
import { pqCompute, type PanopticImage } from '../panoptic-quality';
import { benchPanopticCategories, synthPanopticPair, writePanopticBench } from './panoptic';

describe('synthPanopticPair', () => {
  const categories = benchPanopticCategories();
  const { gt, pred } = synthPanopticPair(7, 160, 120, categories);

  it('has 80 thing and 53 stuff categories with unique ids', () => {
    expect(categories.filter((c) => c.isthing === 1)).toHaveLength(80);
    expect(categories.filter((c) => c.isthing === 0)).toHaveLength(53);
    expect(new Set(categories.map((c) => c.id)).size).toBe(133);
  });

  it('is deterministic in its seed', () => {
    const again = synthPanopticPair(7, 160, 120, categories);
    expect(Array.from(again.gt.ids)).toEqual(Array.from(gt.ids));
    expect(again.pred.segments).toEqual(pred.segments);
    expect(Array.from(synthPanopticPair(8, 160, 120, categories).gt.ids)).not.toEqual(Array.from(gt.ids));
  });

  it('lists exactly the ids its maps hold, with their pixel counts, unique 24-bit ids, crowd only in the GT', () => {
    for (const img of [gt, pred]) {
      const counts = new Map<number, number>();
      for (const id of img.ids) if (id !== 0) counts.set(id, (counts.get(id) ?? 0) + 1);
      expect(new Map(img.segments.map((s) => [s.id, s.area]))).toEqual(counts);
      expect(img.segments.every((s) => s.id > 0 && s.id < 2 ** 24)).toBe(true);
    }
    expect(pred.segments.every((s) => s.iscrowd === 0)).toBe(true);
    expect(gt.ids.some((id) => id === 0)).toBe(true); // VOID rings around things
    const many = Array.from({ length: 40 }, (_, i) => synthPanopticPair(100 + i, 160, 120, categories));
    expect(many.some((p) => p.gt.segments.some((s) => s.iscrowd === 1))).toBe(true);
  });
});

describe('writePanopticBench', () => {
  it('writes PNGs and JSON that the pq command scores as the library does in memory', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rm-pq-bench-'));
    const files = writePanopticBench(dir, 4, 3, 96, 64);
    expect(readdirSync(files.gtDir)).toHaveLength(4);
    const categories = benchPanopticCategories();
    const pairs = Array.from({ length: 4 }, (_, i): [PanopticImage, PanopticImage] => {
      const { gt, pred } = synthPanopticPair(3 * 1_000_003 + i, 96, 64, categories);
      return [
        { width: 96, height: 64, ids: gt.ids, segments: gt.segments },
        { width: 96, height: 64, ids: pred.ids, segments: pred.segments },
      ];
    });
    const fromFiles = pqFromFiles(files).result;
    expect(fromFiles).toEqual(pqCompute(pairs, categories));
    expect(fromFiles.All.n).toBeGreaterThan(5);
    const gtJson = JSON.parse(readFileSync(files.gtJson, 'utf8')) as { images: { width: number }[] };
    expect(gtJson.images.map((im) => im.width)).toEqual([96, 96, 96, 96]);
  });
});
