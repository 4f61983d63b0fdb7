package sandbox

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	sms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/sms/v20210111"
	"go.uber.org/zap"

	"github.com/smsdispatch/smsdispatch/internal/beijing"
	"github.com/smsdispatch/smsdispatch/internal/phonemask"
)

// MaxNumbersPerCall is SendSms's limit on PhoneNumberSet.
const MaxNumbersPerCall = 200

const codeOK = "Ok"

// numberMessages are the SendStatusSet messages of per-number codes.
var numberMessages = map[string]string{
	codeOK: "send success",
	"InvalidParameterValue.IncorrectPhoneNumber": "incorrect phone number",
	"LimitExceeded.PhoneNumberThirtySecondLimit": "the number of SMS messages sent from a single mobile number within 30 seconds exceeds the upper limit",
	"LimitExceeded.PhoneNumberDailyLimit":        "the number of SMS messages sent from a single mobile number every day exceeds the upper limit",
	"LimitExceeded.PhoneNumberOneHourLimit":      "the number of SMS messages sent from a single mobile number within 1 hour exceeds the upper limit",
	"LimitExceeded.DeliveryFrequencyLimit":       "delivery frequency limit exceeded",
	"FailedOperation.PhoneNumberInBlacklist":     "the mobile number is in the blocklist",
}

func numberMessage(code string) string {
	if m, ok := numberMessages[code]; ok {
		return m
	}
	return strings.ToLower(strings.ReplaceAll(code, ".", ": "))
}

// numberState is everything kept per accepted number; it is a map value
// (no pointers) so a million numbers stay cheap.
type numberState struct {
	sends       uint32 // accepted sends since ResetStats
	day         int32  // China-time day of dayCount
	dayCount    uint32
	lastReceipt uint32    // index+1 of the newest receipt, 0 = none
	tpl         [2]uint32 // the two latest templates sent, for the 30-second rule
	at          [2]uint32 // their send times in ticks (see tick), 0 = never
}

// tickMs is the resolution of numberState times: uint32 ticks of 10 ms
// cover 497 days from an hour before the server started.
const tickMs = 10

// tick converts a time to numberState ticks (>= 1). Callers hold s.mu.
func (s *Server) tick(nowMs int64) uint32 {
	t := (nowMs-s.epochMs)/tickMs + 1
	return uint32(min(max(t, 1), 1<<32-1))
}

func chinaDay(t time.Time) int32 { return int32((t.Unix() + 8*3600) / 86400) }

func (s *Server) handleSendSms(body []byte, reqID string, now time.Time) (any, *apiError) {
	var req sms.SendSmsRequestParams
	if e := decode(body, &req); e != nil {
		return nil, e
	}
	s.mu.Lock()
	s.st.largestBatch = max(s.st.largestBatch, len(req.PhoneNumberSet))
	halt := s.faults.HaltCode
	s.mu.Unlock()
	if e := s.checkApp(req.SmsSdkAppId); e != nil {
		return nil, e
	}
	if halt != "" {
		return nil, newAPIError(halt, haltMessage(halt))
	}
	switch n := len(req.PhoneNumberSet); {
	case n == 0:
		return nil, newAPIError("MissingParameter.EmptyPhoneNumberSet", "The PhoneNumberSet parameter is empty.")
	case n > MaxNumbersPerCall:
		return nil, newAPIError("LimitExceeded.PhoneNumberCountLimit",
			"The number of phone numbers in one request exceeds "+strconv.Itoa(MaxNumbersPerCall)+".")
	}
	t, e := s.lookupTemplate(str(req.TemplateId))
	if e != nil {
		return nil, e
	}
	params := make([]string, len(req.TemplateParamSet))
	for i, p := range req.TemplateParamSet {
		params[i] = str(p)
	}
	if len(params) != t.params {
		return nil, newAPIError("FailedOperation.TemplateParamSetNotMatchApprovedTemplate",
			"Template "+t.ID+" takes "+strconv.Itoa(t.params)+" parameters, the request has "+strconv.Itoa(len(params))+".")
	}
	if e := s.checkParams(t, params); e != nil {
		return nil, e
	}
	session := str(req.SessionContext)
	if len(session) >= 512 {
		return nil, newAPIError("InvalidParameter", "SessionContext must be shorter than 512 bytes.")
	}

	// Parse numbers; a call is all domestic or all international.
	phones := make([]phone, len(req.PhoneNumberSet))
	valid := make([]bool, len(req.PhoneNumberSet))
	var domestic, international int
	for i, raw := range req.PhoneNumberSet {
		phones[i], valid[i] = parsePhone(str(raw))
		switch {
		case !valid[i]:
		case phones[i].domestic():
			domestic++
		default:
			international++
		}
	}
	if domestic > 0 && international > 0 {
		return nil, newAPIError("UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber",
			"The request contains both Chinese mainland and international numbers.")
	}
	text := render(t.Content, params)
	if domestic > 0 {
		if t.International {
			return nil, newAPIError("UnsupportedOperation.GlobalTemplateToChineseMainlandPhone",
				"An international template cannot be sent to Chinese mainland numbers.")
		}
		sign := str(req.SignName)
		if !s.signApproved(sign) {
			return nil, newAPIError("FailedOperation.SignatureIncorrectOrUnapproved",
				"The sign name `"+sign+"` is incorrect or not approved.")
		}
		if t.SmsType == SmsTypeMarketing && s.cfg.MarketingHours {
			if h := now.In(beijing.Time).Hour(); h < 8 || h >= 22 {
				return nil, newAPIError("FailedOperation.MarketingSendTimeConstraint",
					"Marketing SMS can only be sent between 08:00 and 22:00 (UTC+8).")
			}
		}
		text = "【" + sign + "】" + text
	}
	if international > 0 && !t.International {
		return nil, newAPIError("UnsupportedOperation.ChineseMainlandTemplateToGlobalPhone",
			"A Chinese mainland template cannot be sent to international numbers.")
	}
	if utf8.RuneCountInString(text) > 500 {
		return nil, newAPIError("InvalidParameterValue.ContentLengthLimit", "The message is longer than 500 characters.")
	}
	fee := segments(text, international > 0)

	codes, apiErr := s.commitSend(t, phones, valid, fee, session, now)
	if apiErr != nil {
		return nil, apiErr
	}

	out := make([]*sms.SendStatus, len(phones))
	accepted := 0
	for i, raw := range req.PhoneNumberSet {
		st := &sms.SendStatus{
			SerialNo:       ptr(""),
			PhoneNumber:    ptr(str(raw)),
			Fee:            ptr(uint64(0)),
			SessionContext: ptr(session),
			Code:           ptr(codes[i].code),
			Message:        ptr(numberMessage(codes[i].code)),
			IsoCode:        ptr("DEF"),
		}
		if valid[i] {
			st.PhoneNumber = ptr(phones[i].e164())
			st.IsoCode = ptr(phones[i].iso)
		}
		if codes[i].code == codeOK {
			accepted++
			st.SerialNo = ptr(s.serialNo(codes[i].receipt))
			st.Fee = ptr(fee)
		}
		out[i] = st
	}
	if accepted > 0 && s.cfg.CallbackURL != "" {
		select {
		case s.pushKick <- struct{}{}:
		default:
		}
	}
	s.log.Debug("sandbox sms sent", zap.String("request_id", reqID), zap.String("template_id", t.ID),
		zap.Int("numbers", len(phones)), zap.Int("accepted", accepted),
		zap.String("first_number", phonemask.Mask(str(req.PhoneNumberSet[0]))))
	return &sms.SendSmsResponseParams{SendStatusSet: out, RequestId: ptr(reqID)}, nil
}

type numberResult struct {
	code    string
	receipt uint32 // receipt index when code is Ok
}

// commitSend decides each number's code and, unless the package balance
// is short, records the accepted ones, all under one lock.
func (s *Server) commitSend(t *tpl, phones []phone, valid []bool, fee uint64, session string,
	now time.Time) ([]numberResult, *apiError) {
	res := make([]numberResult, len(phones))
	nowMs := now.UnixMilli()
	nowTick := s.tick(nowMs)
	today := chinaDay(now)
	intervalTicks := uint32(min(s.cfg.FrequencyInterval.Milliseconds()/tickMs, 1<<32-1))
	inBatch := make(map[uint64]uint32, len(phones))

	s.mu.Lock()
	defer s.mu.Unlock()
	f := &s.faults
	okCount := 0
	for i, p := range phones {
		if !valid[i] {
			res[i].code = "InvalidParameterValue.IncorrectPhoneNumber"
			continue
		}
		if code, ok := s.numberCodes[p.digits]; ok {
			res[i].code = code
			continue
		}
		if f.NumberErrorRate > 0 && s.drawNumberError(p.digits, f.NumberErrorFirstAttempt) {
			res[i].code = f.NumberErrorCodes[s.rng.IntN(len(f.NumberErrorCodes))]
			continue
		}
		st := s.numbers[p.digits]
		prior := inBatch[p.digits]
		if intervalTicks > 0 {
			limited := prior > 0 // same template earlier in this very call
			for j, at := range st.at {
				if st.tpl[j] == t.id && at != 0 && nowTick >= at && nowTick-at < intervalTicks {
					limited = true
				}
			}
			if limited {
				res[i].code = "LimitExceeded.PhoneNumberThirtySecondLimit"
				continue
			}
		}
		if s.cfg.DailyLimit > 0 {
			used := prior
			if st.day == today {
				used += st.dayCount
			}
			if used >= uint32(s.cfg.DailyLimit) {
				res[i].code = "LimitExceeded.PhoneNumberDailyLimit"
				continue
			}
		}
		res[i].code = codeOK
		inBatch[p.digits] = prior + 1
		okCount++
	}
	if s.cfg.PackageAmount > 0 && s.feeUsed+fee*uint64(okCount) > s.cfg.PackageAmount {
		return nil, newAPIError("FailedOperation.InsufficientBalanceInSmsPackage", haltMessage("FailedOperation.InsufficientBalanceInSmsPackage"))
	}

	hour := s.hour(now)
	hour.requests += uint64(len(phones))
	for i, p := range phones {
		if res[i].code != codeOK {
			s.st.numberErrors[res[i].code]++
			continue
		}
		st := s.numbers[p.digits]
		if st.sends > 0 {
			s.st.duplicates++
		}
		st.sends++
		if st.day != today {
			st.day, st.dayCount = today, 0
		}
		st.dayCount++
		// Keep this template's time in its slot, else replace the older slot.
		slot := 0
		switch {
		case st.tpl[0] == t.id || st.at[0] == 0:
		case st.tpl[1] == t.id || st.at[1] <= st.at[0]:
			slot = 1
		}
		st.tpl[slot], st.at[slot] = t.id, nowTick
		idx := s.addReceipt(p, st.lastReceipt, nowMs, session, hour)
		st.lastReceipt = idx + 1
		s.numbers[p.digits] = st
		res[i].receipt = idx
		s.st.numbersSent++
		hour.success++
		hour.fee += fee
		s.feeUsed += fee
	}
	return res, nil
}

// drawNumberError reports whether a number gets an injected per-number code.
// With firstOnly, a number faces the draw once. Callers hold s.mu.
func (s *Server) drawNumberError(digits uint64, firstOnly bool) bool {
	if firstOnly {
		if _, seen := s.drawn[digits]; seen {
			return false
		}
		if s.drawn == nil {
			s.drawn = make(map[uint64]struct{})
		}
		s.drawn[digits] = struct{}{}
	}
	return s.rng.Float64() < s.faults.NumberErrorRate
}

func (s *Server) lookupTemplate(id string) (*tpl, *apiError) {
	n, err := strconv.ParseUint(id, 10, 32)
	if err != nil {
		return nil, newAPIError("FailedOperation.TemplateIncorrectOrUnapproved", "Template `"+id+"` is incorrect or not approved.")
	}
	s.mu.Lock()
	t := s.templates[uint32(n)]
	s.mu.Unlock()
	if t == nil || t.Status != TemplateApproved {
		return nil, newAPIError("FailedOperation.TemplateIncorrectOrUnapproved", "Template `"+id+"` is incorrect or not approved.")
	}
	return t, nil
}

func (s *Server) checkParams(t *tpl, params []string) *apiError {
	for _, p := range params {
		lp := strings.ToLower(p)
		if strings.Contains(lp, "http://") || strings.Contains(lp, "https://") || strings.Contains(lp, "www.") {
			return newAPIError("InvalidParameterValue.ProhibitedUseUrlInTemplateParameter", "Template parameters must not contain URLs.")
		}
		if t.SmsType == SmsTypeOTP && (len(p) > 6 || !isDigits(p) && p != "") {
			return newAPIError("InvalidParameterValue.TemplateParameterFormatError",
				"Verification-code template parameters must be 0-6 digits.")
		}
		if s.cfg.MaxParamLength > 0 && utf8.RuneCountInString(p) > s.cfg.MaxParamLength {
			return newAPIError("InvalidParameterValue.TemplateParameterLengthLimit",
				"A template parameter is longer than "+strconv.Itoa(s.cfg.MaxParamLength)+" characters.")
		}
	}
	return nil
}

func (s *Server) signApproved(sign string) bool {
	for _, n := range s.cfg.SignNames {
		if n == sign {
			return true
		}
	}
	return false
}

func haltMessage(code string) string {
	switch code {
	case "FailedOperation.InsufficientBalanceInSmsPackage":
		return "The SMS package balance is insufficient; buy a package."
	case "UnauthorizedOperation.ServiceSuspendDueToArrears", "UnauthorizedOperation.SerivceSuspendDueToArrears":
		return "The service is suspended because the account is in arrears."
	case "LimitExceeded.AppDailyLimit":
		return "The daily sending limit of the application is exceeded."
	}
	return "Halted by the sandbox (" + code + ")."
}
