// The kill -9 campaign (test/node/_crash-campaign.ts) in Deno.
import { crashCampaign } from './_crash-campaign.ts';

crashCampaign('deno');
