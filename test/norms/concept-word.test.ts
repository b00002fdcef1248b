// The concept-key → word rule (src/norms/concept-word.ts) on the spellings feature norms use.
import { conceptSense, conceptWord } from '../../src/norms/concept-word.ts';

describe('conceptWord', () => {
  it.each([
    ['bat_(animal)', 'bat', 'animal'],
    ['bat_(baseball)', 'bat', 'baseball'],
    ['board_(wood)', 'board', 'wood'],
    ['tank (army)', 'tank', 'army'],
    ['pipe(smoking)', 'pipe', 'smoking'],
    ['fire_truck', 'fire truck', null],
    ['ice cream', 'ice cream', null],
    ['hammer', 'hammer', null],
    ['(x)', '(x)', null],
    ['_', '_', null],
  ])('%s → %s (sense %s)', (key, word, sense) => {
    expect(conceptWord(key)).toBe(word);
    expect(conceptSense(key)).toBe(sense);
  });

  it('keeps parentheses that are not a trailing sense', () => {
    expect(conceptWord('(x) ray')).toBe('(x) ray');
    expect(conceptWord('a_(b)_c')).toBe('a (b) c');
  });
});
