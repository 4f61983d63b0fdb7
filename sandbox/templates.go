package sandbox

import (
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	sms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/sms/v20210111"
	"go.uber.org/zap"
)

// tpl is a template plus what the server derives from it.
type tpl struct {
	Template
	id      uint32
	params  int   // highest placeholder index
	created int64 // unix seconds
}

var errPlaceholders = errors.New("placeholders must be {1}..{n} without gaps")

// countPlaceholders returns the number of parameters content takes: the
// highest {n} index, requiring every index from 1 to n to appear.
func countPlaceholders(content string) (int, error) {
	seen := map[int]bool{}
	highest := 0
	for i := 0; i < len(content); i++ {
		if content[i] != '{' {
			continue
		}
		j := i + 1
		for j < len(content) && content[j] >= '0' && content[j] <= '9' {
			j++
		}
		if j == i+1 || j >= len(content) || content[j] != '}' {
			continue
		}
		n, err := strconv.Atoi(content[i+1 : j])
		if err != nil || n < 1 || n > 99 {
			return 0, errPlaceholders
		}
		seen[n] = true
		highest = max(highest, n)
		i = j
	}
	for n := 1; n <= highest; n++ {
		if !seen[n] {
			return 0, errPlaceholders
		}
	}
	return highest, nil
}

// render replaces {1}..{n} with params.
func render(content string, params []string) string {
	var b strings.Builder
	for i := 0; i < len(content); i++ {
		if content[i] == '{' {
			j := i + 1
			for j < len(content) && content[j] >= '0' && content[j] <= '9' {
				j++
			}
			if j > i+1 && j < len(content) && content[j] == '}' {
				if n, err := strconv.Atoi(content[i+1 : j]); err == nil && n >= 1 && n <= len(params) {
					b.WriteString(params[n-1])
					i = j
					continue
				}
			}
		}
		b.WriteByte(content[i])
	}
	return b.String()
}

// segments returns the billed segments of a message: 70 characters in one
// SMS, 67 per part beyond; international GSM-7 text: 160, then 153.
func segments(text string, international bool) uint64 {
	n := utf8.RuneCountInString(text)
	single, part := 70, 67
	if international && isGSM7(text) {
		single, part = 160, 153
	}
	if n <= single {
		return 1
	}
	return uint64((n + part - 1) / part)
}

func isGSM7(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || (c < 0x20 && c != '\n' && c != '\r') {
			return false
		}
	}
	return true
}

// addTemplate registers t. Callers hold s.mu (or run before serving).
func (s *Server) addTemplate(t Template, created time.Time) *tpl {
	id64, _ := strconv.ParseUint(t.ID, 10, 32)
	n, _ := countPlaceholders(t.Content)
	if t.SmsType == 0 {
		t.SmsType = SmsTypeNotification
	}
	in := &tpl{Template: t, id: uint32(id64), params: n, created: created.Unix()}
	s.templates[in.id] = in
	s.tplOrder = append(s.tplOrder, in.id)
	if in.id >= s.nextTplID {
		s.nextTplID = in.id + 1
	}
	return in
}

// Templates returns the templates the server knows, in creation order.
func (s *Server) Templates() []Template {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Template, 0, len(s.tplOrder))
	for _, id := range s.tplOrder {
		out = append(out, s.templates[id].Template)
	}
	return out
}

// SignNames returns the approved sign names.
func (s *Server) SignNames() []string { return append([]string(nil), s.cfg.SignNames...) }

func (s *Server) handleAddSmsTemplate(body []byte, reqID string, now time.Time) (any, *apiError) {
	var req sms.AddSmsTemplateRequestParams
	if e := decode(body, &req); e != nil {
		return nil, e
	}
	name, content := str(req.TemplateName), str(req.TemplateContent)
	switch {
	case name == "":
		return nil, newAPIError("MissingParameter", "The parameter `TemplateName` is missing.")
	case content == "":
		return nil, newAPIError("MissingParameter", "The parameter `TemplateContent` is missing.")
	case req.SmsType == nil || *req.SmsType < SmsTypeMarketing || *req.SmsType > SmsTypeOTP:
		return nil, newAPIError("InvalidParameterValue.InvalidSmsType", "SmsType must be 1 (marketing), 2 (notification) or 3 (verification code).")
	case req.International == nil || *req.International > 1:
		return nil, newAPIError("InvalidParameterValue.InvalidInternational", "International must be 0 or 1.")
	case utf8.RuneCountInString(content) > 500:
		return nil, newAPIError("InvalidParameterValue.ContentLengthLimit", "The template content is longer than 500 characters.")
	}
	if _, err := countPlaceholders(content); err != nil {
		return nil, newAPIError("InvalidParameterValue.InvalidTemplateFormat", "Template variables must be {1}, {2}, ... without gaps.")
	}
	if *req.SmsType == SmsTypeMarketing && *req.International == 0 &&
		!strings.Contains(content, "拒收请回复R") && !strings.Contains(content, "回T退订") {
		return nil, newAPIError("InvalidParameterValue.MarketingTemplateWithoutUnsubscribe",
			"Domestic marketing templates must end with an opt-out such as 拒收请回复R.")
	}
	s.mu.Lock()
	t := s.addTemplate(Template{
		ID:            strconv.FormatUint(uint64(s.nextTplID), 10),
		Name:          name,
		Content:       content,
		SmsType:       int(*req.SmsType),
		International: *req.International == 1,
	}, now)
	s.mu.Unlock()
	s.log.Info("sandbox template added", zap.String("template_id", t.ID), zap.String("name", name))
	return &sms.AddSmsTemplateResponseParams{
		AddTemplateStatus: &sms.AddTemplateStatus{TemplateId: ptr(t.ID)},
		RequestId:         ptr(reqID),
	}, nil
}

func (s *Server) handleDescribeSmsTemplateList(body []byte, reqID string, _ time.Time) (any, *apiError) {
	var req sms.DescribeSmsTemplateListRequestParams
	if e := decode(body, &req); e != nil {
		return nil, e
	}
	if req.International == nil || *req.International > 1 {
		return nil, newAPIError("InvalidParameterValue.InvalidInternational", "International must be 0 or 1.")
	}
	intl := *req.International == 1
	s.mu.Lock()
	defer s.mu.Unlock()
	var picked []*tpl
	if len(req.TemplateIdSet) > 0 {
		if len(req.TemplateIdSet) > 100 {
			return nil, newAPIError("InvalidParameterValue.LimitVerifyFail", "TemplateIdSet holds at most 100 IDs.")
		}
		for _, id := range req.TemplateIdSet {
			if id == nil || *id > 1<<32-1 {
				continue
			}
			if t := s.templates[uint32(*id)]; t != nil && t.International == intl {
				picked = append(picked, t)
			}
		}
	} else {
		limit, offset := uint64(0), uint64(0)
		if req.Limit != nil {
			limit = *req.Limit
		}
		if req.Offset != nil {
			offset = *req.Offset
		}
		if limit == 0 || limit > 100 {
			return nil, newAPIError("InvalidParameterValue.LimitVerifyFail", "Limit must be 1-100 when TemplateIdSet is empty.")
		}
		var all []*tpl
		for _, id := range s.tplOrder {
			if t := s.templates[id]; t.International == intl {
				all = append(all, t)
			}
		}
		if offset < uint64(len(all)) {
			all = all[offset:]
			picked = all[:min(uint64(len(all)), limit)]
		}
	}
	out := make([]*sms.DescribeTemplateListStatus, 0, len(picked))
	for _, t := range picked {
		var intlFlag uint64
		if t.International {
			intlFlag = 1
		}
		reply := "审核通过"
		switch t.Status {
		case TemplateReviewing:
			reply = ""
		case TemplateRejected:
			reply = "模板内容不符合规范"
		}
		out = append(out, &sms.DescribeTemplateListStatus{
			TemplateId:      ptr(uint64(t.id)),
			International:   ptr(intlFlag),
			StatusCode:      ptr(int64(t.Status)),
			ReviewReply:     ptr(reply),
			TemplateName:    ptr(t.Name),
			CreateTime:      ptr(uint64(t.created)),
			TemplateContent: ptr(t.Content),
		})
	}
	return &sms.DescribeSmsTemplateListResponseParams{DescribeTemplateStatusSet: out, RequestId: ptr(reqID)}, nil
}
