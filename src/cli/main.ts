#!/usr/bin/env node
/**
 * The `lorafa` command. Each subcommand lives in its own module exporting
 * `run(args: string[]): Promise<number>` (the exit code), loaded only when used.
 */
const commands: Record<string, { help: string; load: () => Promise<{ run: (args: string[]) => Promise<number> }> }> = {
  lab: { help: 'fine-tune a tiny GPT with Full-FT, LoRA, LoRA-FA and LoRA-FB and compare them (default)', load: () => import('./lab.ts') },
  pretrain: { help: 'pre-train the base checkpoint the lab starts from', load: () => import('./pretrain.ts') },
  verify: { help: "check every claim of the paper's mathematics with property tests", load: () => import('./verify.ts') },
  calc: { help: 'activation, weight, gradient and optimizer memory of a model per method', load: () => import('./calc.ts') },
};

async function main(argv: string[]): Promise<number> {
  const [name = 'lab', ...rest] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    console.log('usage: lorafa <command> [options]\n');
    for (const [n, c] of Object.entries(commands)) console.log(`  ${n.padEnd(10)} ${c.help}`);
    return 0;
  }
  const command = commands[name];
  if (!command) {
    console.error(`lorafa: unknown command '${name}'; expected one of ${Object.keys(commands).join(', ')} (see lorafa --help)`);
    return 2;
  }
  return (await command.load()).run(rest);
}

process.exitCode = await main(process.argv.slice(2));
