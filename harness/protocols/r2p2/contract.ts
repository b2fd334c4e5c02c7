/**
 * The R2P2 contract (`ProtocolDefinition.contract`): its action catalog, machines, spec module
 * with the steps that are no trace action, and the implementation's bug list
 * (`harness/protocols/contract.test.ts` checks them against the spec, machines and cores).
 */
import { R2P2_ACTIONS } from '../../../impl/r2p2/actions.ts';
import { R2P2_BUGS } from '../../../impl/r2p2/common.ts';
import { R2P2_MACHINES } from '../../../machines/r2p2/index.ts';
import type { ProtocolContract } from '../../protocol.ts';

export const R2P2_CONTRACT: ProtocolContract = {
  actions: R2P2_ACTIONS,
  machines: R2P2_MACHINES,
  spec: {
    module: 'specs/r2p2/R2P2.tla',
    leavesOut: {
      ServerAnnounce: 'Next takes its two parts, ServerHeartbeat and ServerStart, as steps of their own (a model ' +
        'chooses which a server does); trace validation takes the announce event, which is either.',
    },
    specOnly: {
      ServerHeartbeat: 'part of ServerAnnounce: the announce of a running server (its served count goes on).',
      ServerStart: 'part of ServerAnnounce: the announce of a (re)started incarnation (served 0).',
      ServerCrash: 'a host fault: the trace records it as the server\'s HostCrash annotation, not an action.',
      RouterRestart: 'a host fault: the router\'s HostCrash and HostRestart annotations, not an action.',
    },
  },
  implBugs: R2P2_BUGS,
  propertiesWithoutBug: {},
};
