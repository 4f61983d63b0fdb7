// Package sandbox is a local Tencent Cloud SMS API (version 2021-01-11) for
// tests, demos and load tests without a Tencent account.
//
// A Server is an http.Handler speaking the real protocol: POST JSON with the
// X-TC-Action / X-TC-Version / X-TC-Timestamp / X-TC-Region headers, signed
// with TC3-HMAC-SHA256, answered in Tencent's {"Response":{...,"RequestId"}}
// envelope with Tencent's error codes. The official Go SDK talks to it
// unchanged: point HttpProfile.Endpoint at the server's host:port and set
// Scheme "HTTP".
//
// Implemented actions: SendSms, PullSmsSendStatus (destructive, oldest
// first), PullSmsSendStatusByPhoneNumber (not consuming), SendStatusStatistics,
// CallbackStatusStatistics, SmsPackagesStatistics, AddSmsTemplate (approved at
// once), DescribeSmsTemplateList and PullSmsReplyStatus (destructive: it
// returns the replies queued by InjectReply once each; with
// Config.ReplyCallbackURL set they are pushed there too, in Tencent's reply
// callback format). Other sms actions answer
// UnsupportedOperation; unknown ones InvalidAction.
//
// SendSms applies the API's validation (1-200 numbers, all mainland or all
// international, app, template approval and parameters, sign name), the
// per-number frequency rules (Config.FrequencyInterval, Config.DailyLimit),
// and bills segments against a package (Config.PackageAmount). Every
// accepted number gets a delivery receipt that becomes pullable after
// Config.ReceiptDelay and, when Config.CallbackURL is set, is pushed there in
// Tencent's status-callback format by a background goroutine that Close
// stops.
//
// Faults (latency, whole-call errors, QPS limits, per-number codes, lost
// replies, halts) are injected deterministically under Config.Seed and can
// be changed while serving with SetFaults. Stats exposes counters for tests,
// such as DuplicateSends.
//
// Times of day (daily limits, marketing hours, statistics hours) are China
// time (UTC+8), as at Tencent.
package sandbox
