/** `protocheck setup`: installs what the checks need on first use (the TLA+ tools). */
import { EXIT } from '../main.ts';
import { ensureTools } from '../../tlc/index.ts';

export async function run(args: string[]): Promise<number> {
  if (args.includes('--help')) {
    console.log('usage: protocheck setup\n\nFinds java and the TLA+ tools jar (TLA2TOOLS_JAR, or fetched from Maven Central into .cache/).');
    return EXIT.ok;
  }
  const tools = await ensureTools();
  console.log(`protocheck setup: java ${tools.java}, TLA+ tools ${tools.jar}`);
  return EXIT.ok;
}
