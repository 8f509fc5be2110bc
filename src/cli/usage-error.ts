/** A command used wrongly (an unknown stream name...): exit code 2, like a bad config. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
