// Issue 18, H1 over the sendfile addon (the read-stream path where the addon is not built).
import { describeDeleteDuringFetch } from './delete-during-fetch.js'

describeDeleteDuringFetch()
