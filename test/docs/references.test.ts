import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function filesUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    return statSync(join(ROOT, path)).isDirectory() ? filesUnder(path) : [path];
  });
}

const SOURCES = ['src', 'test', 'bench', 'scripts'].flatMap(filesUnder).filter((path) => /\.(ts|mjs|js|txt)$/.test(path));

describe('references in the code', () => {
  it('never point to documents outside the repository', () => {
    const outside = /DESIGN(\.md)? ?§|\.\.\/shared|research\/[a-z]+\.md|(?<!docs\/)\b(sdmx|rpde|ods|peers)\.md §/;
    const offenders = SOURCES.filter((path) => path !== relative(ROOT, fileURLToPath(import.meta.url)))
      .flatMap((path) => readFileSync(join(ROOT, path), 'utf8').split('\n').map((line, index) => ({ path, line, index })))
      .filter(({ line }) => outside.test(line))
      .map(({ path, line, index }) => `${path}:${index + 1}: ${line.trim()}`);
    expect(offenders).toEqual([]);
  });

  it('point to docs that exist, at sections that exist', () => {
    const problems: string[] = [];
    let checked = 0;
    for (const path of SOURCES) {
      const text = readFileSync(join(ROOT, path), 'utf8').replace(/\n\s*\*\s*/g, ' ');
      for (const match of text.matchAll(/docs\/([a-z-]+\.md)(?:, "([^"]+)")?/g)) {
        checked += 1;
        const doc = join(ROOT, 'docs', match[1] as string);
        let content: string;
        try {
          content = readFileSync(doc, 'utf8');
        } catch {
          problems.push(`${path}: docs/${match[1]} does not exist`);
          continue;
        }
        const section = match[2];
        if (section !== undefined && !content.split('\n').some((line) => /^#+ /.test(line) && line.includes(section))) {
          problems.push(`${path}: docs/${match[1]} has no section "${section}"`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(20);
  });
});
