/**
 * A feed that cannot make progress (self-loop, cycle, `next` or a redirect to a refused origin,
 * a redirect loop): nothing is wrong with one page, and retrying later may help.
 */
export class RpdeFeedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RpdeFeedError';
  }
}
