// Activities for ACR's native base-image triggers (CASCADE_NATIVE_TRIGGERS), used by the rebuildTask orchestration.
import * as df from 'durable-functions';
import {
  NativeTriggerActivityNames,
  type DisableNativeTriggerInput,
  type FindNativeRunInput,
} from '../contracts/index.js';
import { nativeTriggerActivities as activities } from './activities.js';

df.app.activity(NativeTriggerActivityNames.findNativeRun, {
  handler: (input: FindNativeRunInput) => activities().findNativeRun(input),
});
df.app.activity(NativeTriggerActivityNames.disableNativeTrigger, {
  handler: (input: DisableNativeTriggerInput) => activities().disableNativeTrigger(input),
});
