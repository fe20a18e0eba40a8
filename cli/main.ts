/**
 * gpuaas-runbooks: the operator CLI over the HTTP API. Every command is one or two
 * API calls with the caller's token; the API decides who may do what.
 */
import { Command, CommanderError, Option } from 'commander';
import { decisionCommand } from './commands/approvals';
import { auditCommand } from './commands/audit';
import { budgetsCommand } from './commands/budgets';
import { cancelCommand } from './commands/cancel';
import { drillsCommand } from './commands/drills';
import { runsCommand } from './commands/runs';
import { startCommand } from './commands/start';
import { tokensCommand } from './commands/tokens';
import { CliError } from './errors';
import { EXIT, EXIT_CODES_HELP } from './exit-codes';
import { parseDuration } from './option-parsers';
import { OUTPUT_FORMATS } from './output';

export function buildProgram(): Command {
  const program = new Command('gpuaas-runbooks')
    .description('Operate gpuaas-runbooks through its API: runs, approvals, drills, disruption budgets, tokens and the audit trail.')
    .option('--api-url <url>', 'the API (env GPUAAS_API_URL, config api_url; default http://127.0.0.1:8080)')
    .option('--token <token>', 'bearer token (env GPUAAS_TOKEN, config token)')
    .option('--token-file <file>', 'read the token from a file, e.g. .data/lab-admin-token (env GPUAAS_TOKEN_FILE, config token_file)')
    .addOption(new Option('-o, --output <format>', 'table for people, json for scripts').choices(OUTPUT_FORMATS).default('table'))
    .addOption(new Option('--timeout <duration>', 'per request').argParser(parseDuration).default(30_000, '30s'))
    .addHelpText(
      'after',
      `
Config file: $GPUAAS_CONFIG, else ~/.config/gpuaas-runbooks/config.json: {"api_url": "...", "token": "..."}.
Flags win over the environment, the environment over the file.
${EXIT_CODES_HELP}`,
    );

  program.addCommand(runsCommand());
  program.addCommand(startCommand());
  program.addCommand(decisionCommand('approve'));
  program.addCommand(decisionCommand('reject'));
  program.addCommand(cancelCommand());
  program.addCommand(drillsCommand());
  program.addCommand(budgetsCommand());
  program.addCommand(tokensCommand());
  program.addCommand(auditCommand());

  // Commands built apart and added do not inherit these, so every one gets them.
  const everywhere = (cmd: Command) => {
    // Thrown, not process.exit(): main() picks the exit code once output is written.
    cmd.exitOverride();
    cmd.showHelpAfterError('(add --help for usage)');
    cmd.configureOutput({ outputError: (text, write) => write(`error: usage: ${text.replace(/^error: /, '')}`) });
    cmd.commands.forEach(everywhere);
  };
  everywhere(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage; // already printed by commander
    if (err instanceof CliError) {
      process.stderr.write(`error: ${err.code}: ${err.message}\n${err.notes.map((n) => `  ${n}\n`).join('')}`);
      return err.exitCode;
    }
    process.stderr.write(`error: internal: ${(err as Error)?.stack ?? String(err)}\n`);
    return EXIT.usage;
  }
}

void main(process.argv).then((code) => {
  process.exitCode = code;
});
