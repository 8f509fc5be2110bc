/**
 * Rendered pages by request target, valid while the feed has not changed: what the CDN in front
 * of a real feed does (DOCS scaling-feeds), and what lets the simulator serve a 100k-item
 * benchmark without its own JSON rendering weighing on the harvesters measured.
 */
export class PageCache<T extends { readonly body: Buffer }> {
  private readonly pages = new Map<string, T>();
  private bytes = 0;
  private changeCount = -1;

  /** `maxBytes` 0 turns caching off; past the budget the cache starts over rather than tracking use. */
  constructor(private readonly maxBytes: number) {}

  get(target: string, changeCount: number): T | undefined {
    if (changeCount !== this.changeCount) {
      this.pages.clear();
      this.bytes = 0;
      this.changeCount = changeCount;
      return undefined;
    }
    return this.pages.get(target);
  }

  set(target: string, page: T): void {
    if (this.maxBytes <= 0 || page.body.length > this.maxBytes) return;
    if (this.bytes + page.body.length > this.maxBytes) {
      this.pages.clear();
      this.bytes = 0;
    }
    this.pages.set(target, page);
    this.bytes += page.body.length;
  }
}
