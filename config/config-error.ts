/** All the problems of a configuration (or of a file it names), one per line after the title. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    title: string,
    /** One entry per bad variable (or inventory field): "API_PORT: expected ..." */
    readonly problems: string[],
  ) {
    super(`${title}\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}
