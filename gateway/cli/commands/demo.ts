// Placeholder until the module that owns this command lands.
export async function run(_argv: string[]): Promise<number> {
  process.stderr.write('passerelle demo: not available yet\n');
  return 1;
}
