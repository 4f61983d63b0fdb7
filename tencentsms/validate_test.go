package tencentsms_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/tencentsms"
)

func TestArgumentValidation(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(call) reply {
		t.Error("a request reached the server")
		return reply{Status: 500}
	})
	c := newClient(t, f.url())
	ctx := context.Background()
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

	withSend := func(mod func(*tencentsms.SendRequest)) func() error {
		return func() error {
			r := sendReq("+8613800000000", "+8613800000001")
			mod(&r)
			_, err := c.SendSms(ctx, r)
			return err
		}
	}
	byPhone := func(mod func(*tencentsms.PullByPhoneRequest)) func() error {
		return func() error {
			r := tencentsms.PullByPhoneRequest{AppID: testAppID, PhoneNumber: "+8613800000000",
				Begin: now.Add(-time.Hour), End: now, Limit: 10}
			mod(&r)
			_, err := c.PullSendStatusByPhoneNumber(ctx, r)
			return err
		}
	}
	stats := func(mod func(*tencentsms.StatisticsRequest)) func() error {
		return func() error {
			r := tencentsms.StatisticsRequest{AppID: testAppID, Begin: now.Add(-time.Hour), End: now}
			mod(&r)
			_, err := c.SendStatusStatistics(ctx, r)
			return err
		}
	}
	packages := func(mod func(*tencentsms.PackagesRequest)) func() error {
		return func() error {
			r := tencentsms.PackagesRequest{AppID: testAppID, Begin: now.Add(-time.Hour), End: now, Limit: 10}
			mod(&r)
			_, err := c.SmsPackagesStatistics(ctx, r)
			return err
		}
	}
	addTpl := func(mod func(*tencentsms.AddTemplateRequest)) func() error {
		return func() error {
			r := tencentsms.AddTemplateRequest{Name: "n", Content: "c {1}", Type: tencentsms.SmsNotification}
			mod(&r)
			_, err := c.AddSmsTemplate(ctx, r)
			return err
		}
	}
	listTpl := func(r tencentsms.TemplateListRequest) func() error {
		return func() error {
			_, err := c.DescribeSmsTemplateList(ctx, r)
			return err
		}
	}

	tests := []struct {
		name  string
		call  func() error
		field string
	}{
		{"send: no numbers", withSend(func(r *tencentsms.SendRequest) { r.PhoneNumbers = nil }), "SendRequest.PhoneNumbers"},
		{"send: 201 numbers", withSend(func(r *tencentsms.SendRequest) { r.PhoneNumbers = phoneNumbers(201) }), "SendRequest.PhoneNumbers"},
		{"send: empty number", withSend(func(r *tencentsms.SendRequest) { r.PhoneNumbers[1] = "" }), "SendRequest.PhoneNumbers[1]"},
		{"send: duplicate number", withSend(func(r *tencentsms.SendRequest) { r.PhoneNumbers[1] = r.PhoneNumbers[0] }), "SendRequest.PhoneNumbers[1]"},
		{"send: no app", withSend(func(r *tencentsms.SendRequest) { r.AppID = "" }), "SendRequest.AppID"},
		{"send: no template", withSend(func(r *tencentsms.SendRequest) { r.TemplateID = "" }), "SendRequest.TemplateID"},
		{"send: session context too long", withSend(func(r *tencentsms.SendRequest) { r.SessionContext = strings.Repeat("x", 512) }), "SendRequest.SessionContext"},
		{"pull: limit 0", func() error { _, err := c.PullSendStatus(ctx, testAppID, 0); return err }, "limit"},
		{"pull: limit 101", func() error { _, err := c.PullSendStatus(ctx, testAppID, 101); return err }, "limit"},
		{"pull: no app", func() error { _, err := c.PullSendStatus(ctx, "", 10); return err }, "appID"},
		{"by phone: limit 0", byPhone(func(r *tencentsms.PullByPhoneRequest) { r.Limit = 0 }), "PullByPhoneRequest.Limit"},
		{"by phone: limit 101", byPhone(func(r *tencentsms.PullByPhoneRequest) { r.Limit = 101 }), "PullByPhoneRequest.Limit"},
		{"by phone: no number", byPhone(func(r *tencentsms.PullByPhoneRequest) { r.PhoneNumber = "" }), "PullByPhoneRequest.PhoneNumber"},
		{"by phone: no app", byPhone(func(r *tencentsms.PullByPhoneRequest) { r.AppID = "" }), "PullByPhoneRequest.AppID"},
		{"by phone: no begin", byPhone(func(r *tencentsms.PullByPhoneRequest) { r.Begin = time.Time{} }), "PullByPhoneRequest.Begin"},
		{"by phone: no end", byPhone(func(r *tencentsms.PullByPhoneRequest) { r.End = time.Time{} }), "PullByPhoneRequest.End"},
		{"by phone: end before begin", byPhone(func(r *tencentsms.PullByPhoneRequest) { r.End = r.Begin.Add(-time.Second) }), "PullByPhoneRequest.End"},
		{"stats: no app", stats(func(r *tencentsms.StatisticsRequest) { r.AppID = "" }), "StatisticsRequest.AppID"},
		{"stats: end before begin", stats(func(r *tencentsms.StatisticsRequest) { r.End = r.Begin.Add(-time.Hour) }), "StatisticsRequest.End"},
		{"stats: no begin", stats(func(r *tencentsms.StatisticsRequest) { r.Begin = time.Time{} }), "StatisticsRequest.Begin"},
		{"packages: same hour", packages(func(r *tencentsms.PackagesRequest) { r.End = r.Begin.Add(time.Minute) }), "PackagesRequest.End"},
		{"packages: limit 0", packages(func(r *tencentsms.PackagesRequest) { r.Limit = 0 }), "PackagesRequest.Limit"},
		{"packages: limit 501", packages(func(r *tencentsms.PackagesRequest) { r.Limit = 501 }), "PackagesRequest.Limit"},
		{"packages: negative offset", packages(func(r *tencentsms.PackagesRequest) { r.Offset = -1 }), "PackagesRequest.Offset"},
		{"add template: no name", addTpl(func(r *tencentsms.AddTemplateRequest) { r.Name = "" }), "AddTemplateRequest.Name"},
		{"add template: no content", addTpl(func(r *tencentsms.AddTemplateRequest) { r.Content = "" }), "AddTemplateRequest.Content"},
		{"add template: bad type", addTpl(func(r *tencentsms.AddTemplateRequest) { r.Type = 4 }), "AddTemplateRequest.Type"},
		{"list templates: no limit", listTpl(tencentsms.TemplateListRequest{}), "TemplateListRequest.Limit"},
		{"list templates: limit 101", listTpl(tencentsms.TemplateListRequest{Limit: 101}), "TemplateListRequest.Limit"},
		{"list templates: bad ID", listTpl(tencentsms.TemplateListRequest{TemplateIDs: []string{"1", "x1"}}), "TemplateListRequest.TemplateIDs[1]"},
		{"list templates: IDs and page", listTpl(tencentsms.TemplateListRequest{TemplateIDs: []string{"1"}, Limit: 5}), "TemplateListRequest.Limit"},
		{"list templates: 101 IDs", listTpl(tencentsms.TemplateListRequest{TemplateIDs: make([]string, 101)}), "TemplateListRequest.TemplateIDs"},
	}
	for _, tt := range tests {
		err := tt.call()
		var ae *tencentsms.ArgumentError
		if !errors.As(err, &ae) {
			t.Errorf("%s: error %v (%T), want *ArgumentError", tt.name, err, err)
			continue
		}
		if ae.Field != tt.field {
			t.Errorf("%s: Field %q, want %q (%v)", tt.name, ae.Field, tt.field, err)
		}
		if !errors.Is(err, tencentsms.ErrInvalidArgument) {
			t.Errorf("%s: errors.Is(err, ErrInvalidArgument) is false", tt.name)
		}
		if errors.Is(err, tencentsms.ErrNotSent) || errors.Is(err, tencentsms.ErrOutcomeUnknown) {
			t.Errorf("%s: argument error matches a transport sentinel", tt.name)
		}
	}
	if n := f.requests.Load(); n != 0 {
		t.Errorf("server saw %d requests, want 0", n)
	}
}

func TestDuplicateNumberErrorIsMasked(t *testing.T) {
	t.Parallel()
	c := newClient(t, closedPort(t))
	_, err := c.SendSms(context.Background(), sendReq("+8613812345678", "+8613812345678"))
	if err == nil || strings.Contains(err.Error(), "+8613812345678") {
		t.Errorf("error %v should name the duplicate masked", err)
	}
}
