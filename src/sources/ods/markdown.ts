import { createRequire } from 'node:module';
import type TurndownService from 'turndown';

/**
 * Dataset descriptions are HTML on portals; the catalog mirror keeps them as Markdown, as
 * harvesters of ODS portals publish them. One converter for the process, built on first use:
 * building it is the costly part, and loading turndown (a DOM implementation with it) would slow
 * the start of every CLI call that converts nothing.
 */
let turndown: TurndownService | undefined;

export function htmlToMarkdown(html: string): string {
  turndown ??= newConverter();
  return turndown.turndown(html).trim();
}

function newConverter(): TurndownService {
  const Turndown = createRequire(import.meta.url)('turndown') as typeof TurndownService;
  return new Turndown({ headingStyle: 'atx', bulletListMarker: '-', codeBlockStyle: 'fenced', emDelimiter: '*' });
}
