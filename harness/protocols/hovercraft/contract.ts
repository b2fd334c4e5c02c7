/**
 * The HovercRaft contract (`ProtocolDefinition.contract`): its action catalog, machines, spec
 * module with the steps that are no trace action, the implementation's bug list and the property
 * checkers no seeded bug is shown to trip (`harness/protocols/contract.test.ts` checks them).
 */
import { HOVERCRAFT_ACTIONS } from '../../../impl/hovercraft/actions.ts';
import { HOVERCRAFT_BUGS } from '../../../impl/hovercraft/config.ts';
import { HOVERCRAFT_MACHINES } from '../../../machines/hovercraft/index.ts';
import type { ProtocolContract } from '../../protocol.ts';

export const HOVERCRAFT_CONTRACT: ProtocolContract = {
  actions: HOVERCRAFT_ACTIONS,
  machines: HOVERCRAFT_MACHINES,
  spec: {
    module: 'specs/hovercraft/HovercRaft.tla',
    leavesOut: {
      ClientTimeout: 'the models leave client timeouts out: a timed-out operation only stops waiting, which adds ' +
        'states and no behaviour of the nodes; trace validation takes it.',
    },
    specOnly: {
      RepickReplier: 'the step of the seeded spec bugs ReplierReassigned and ReplierReannounced (enabled only in ' +
        'those variants).',
      Discard: 'the network: a message its receiver ignores for good leaves it without a step of the receiver.',
      AggRestart: 'a host fault: the aggregator\'s HostCrash and HostRestart annotations, not an action.',
    },
  },
  implBugs: HOVERCRAFT_BUGS,
  propertiesWithoutBug: {},
};
