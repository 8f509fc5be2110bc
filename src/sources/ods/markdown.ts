import TurndownService from 'turndown';

/**
 * Dataset descriptions are HTML on portals; the catalog mirror keeps them as Markdown, as
 * harvesters of ODS portals publish them. One converter for the process: building it is the
 * costly part.
 */
const turndown = new TurndownService({ headingStyle: 'atx', bulletListMarker: '-', codeBlockStyle: 'fenced', emDelimiter: '*' });

export function htmlToMarkdown(html: string): string {
  return turndown.turndown(html).trim();
}
