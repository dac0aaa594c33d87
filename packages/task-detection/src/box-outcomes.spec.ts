// Box outcomes at IoU 0.5 by the reward's matching, on a hand-made image.
import { addOutcomes, boxOutcomes, NO_OUTCOMES } from './box-outcomes';
import type { DetectionExample } from './dataset';
import type { DecodedBox, NormBox } from './sequence';

const box = (cls: number, ymin: number, xmin: number, ymax: number, xmax: number, conf = 2): DecodedBox => ({
  ymin,
  xmin,
  ymax,
  xmax,
  cls,
  conf,
});
const objects: NormBox[] = [box(0, 0, 0, 0.5, 0.5), box(1, 0.5, 0.5, 1, 1), box(0, 0, 0.5, 0.5, 1)];
const example = { boxes: objects } as unknown as DetectionExample; // only the objects are read
const outcomes = (slots: DecodedBox[]) => boxOutcomes({ slots }, example);

it('sorts every non-null box into found, duplicate, wrong class or no object', () => {
  const slots = [
    box(0, 0, 0, 0.48, 0.5), // object 0 at IoU 0.96, but the next box overlaps it more: a duplicate
    box(0, 0, 0, 0.5, 0.5), // object 0 exactly: found
    box(0, 0.5, 0.5, 1, 1), // on object 1, whose class is 1: wrong class
    box(2, 0.8, 0, 1, 0.2), // nothing there
    box(0, 0, 0, 0, 0, 0), // a null slot
    box(1, 0.5, 0.5, 0.9, 0.9), // object 1 at IoU 0.64: found
  ];
  expect(outcomes(slots)).toEqual({ boxes: 5, found: 2, duplicate: 1, wrongClass: 1, noObject: 1, objects: 3 });
});

it('a box under the threshold is no object, even of the right class; so is a box on an object of another class under it', () => {
  expect(outcomes([box(0, 0, 0, 0.5, 0.2), box(1, 0, 0, 0.5, 0.2)])).toEqual({
    boxes: 2,
    found: 0,
    duplicate: 0,
    wrongClass: 0,
    noObject: 2,
    objects: 3,
  });
});

it('adds up over images', () => {
  const one = outcomes([box(0, 0, 0, 0.5, 0.5)]);
  expect(addOutcomes(addOutcomes(NO_OUTCOMES, one), one)).toEqual({
    boxes: 2,
    found: 2,
    duplicate: 0,
    wrongClass: 0,
    noObject: 0,
    objects: 6,
  });
});
