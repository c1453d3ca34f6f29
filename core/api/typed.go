package api

import "context"

// Health calls health.
func (c *Client) Health(ctx context.Context) (HealthResult, error) {
	var r HealthResult
	err := c.Call(ctx, MethodHealth, nil, &r)
	return r, err
}

// Status calls status.
func (c *Client) Status(ctx context.Context) (StatusResult, error) {
	var r StatusResult
	err := c.Call(ctx, MethodStatus, nil, &r)
	return r, err
}

// ChatSend calls chat.send.
func (c *Client) ChatSend(ctx context.Context, p ChatSendParams) (ChatSendResult, error) {
	var r ChatSendResult
	err := c.Call(ctx, MethodChatSend, p, &r)
	return r, err
}

// ChatHistory calls chat.history.
func (c *Client) ChatHistory(ctx context.Context, p ChatHistoryParams) (ChatHistoryResult, error) {
	var r ChatHistoryResult
	err := c.Call(ctx, MethodChatHistory, p, &r)
	return r, err
}

// ChatAbort calls chat.abort.
func (c *Client) ChatAbort(ctx context.Context, p ChatAbortParams) (ChatAbortResult, error) {
	var r ChatAbortResult
	err := c.Call(ctx, MethodChatAbort, p, &r)
	return r, err
}

// SessionsList calls sessions.list.
func (c *Client) SessionsList(ctx context.Context, p SessionsListParams) (SessionsListResult, error) {
	var r SessionsListResult
	err := c.Call(ctx, MethodSessionsList, p, &r)
	return r, err
}

// ApprovalsList calls approvals.list.
func (c *Client) ApprovalsList(ctx context.Context) (ApprovalsListResult, error) {
	var r ApprovalsListResult
	err := c.Call(ctx, MethodApprovalsList, nil, &r)
	return r, err
}

// ApprovalsResolve calls approvals.resolve.
func (c *Client) ApprovalsResolve(ctx context.Context, p ApprovalsResolveParams) (ApprovalsResolveResult, error) {
	var r ApprovalsResolveResult
	err := c.Call(ctx, MethodApprovalsResolve, p, &r)
	return r, err
}

// ModelsList calls models.list.
func (c *Client) ModelsList(ctx context.Context) (ModelsListResult, error) {
	var r ModelsListResult
	err := c.Call(ctx, MethodModelsList, nil, &r)
	return r, err
}

// VaultStatus calls vault.status.
func (c *Client) VaultStatus(ctx context.Context) (VaultStatus, error) {
	var r VaultStatus
	err := c.Call(ctx, MethodVaultStatus, nil, &r)
	return r, err
}

// VaultUnlock calls vault.unlock. A wrong passphrase is an
// INVALID_REQUEST error saying so.
func (c *Client) VaultUnlock(ctx context.Context, p VaultUnlockParams) (VaultStatus, error) {
	var r VaultStatus
	err := c.Call(ctx, MethodVaultUnlock, p, &r)
	return r, err
}

// VaultLock calls vault.lock.
func (c *Client) VaultLock(ctx context.Context) (VaultStatus, error) {
	var r VaultStatus
	err := c.Call(ctx, MethodVaultLock, nil, &r)
	return r, err
}

// VaultCreate calls vault.create: onboarding creates the vault and seals
// everything stored so far.
func (c *Client) VaultCreate(ctx context.Context, p VaultUnlockParams) (VaultStatus, error) {
	var r VaultStatus
	err := c.Call(ctx, MethodVaultCreate, p, &r)
	return r, err
}

// VaultRekey calls vault.rekey.
func (c *Client) VaultRekey(ctx context.Context, p VaultRekeyParams) (VaultStatus, error) {
	var r VaultStatus
	err := c.Call(ctx, MethodVaultRekey, p, &r)
	return r, err
}

// ChannelsStatus calls channels.status.
func (c *Client) ChannelsStatus(ctx context.Context) (ChannelsStatusResult, error) {
	var r ChannelsStatusResult
	err := c.Call(ctx, MethodChannelsStatus, nil, &r)
	return r, err
}

// ChannelsSet calls channels.set.
func (c *Client) ChannelsSet(ctx context.Context, p ChannelsSetParams) (ChannelsStatusResult, error) {
	var r ChannelsStatusResult
	err := c.Call(ctx, MethodChannelsSet, p, &r)
	return r, err
}

// ChannelsLogin calls channels.login; QR codes arrive as channels.qr events.
func (c *Client) ChannelsLogin(ctx context.Context, p ChannelsLoginParams) (ChannelsStatusResult, error) {
	var r ChannelsStatusResult
	err := c.Call(ctx, MethodChannelsLogin, p, &r)
	return r, err
}

// ChannelsLogout calls channels.logout.
func (c *Client) ChannelsLogout(ctx context.Context, p ChannelParams) (ChannelsStatusResult, error) {
	var r ChannelsStatusResult
	err := c.Call(ctx, MethodChannelsLogout, p, &r)
	return r, err
}

// PairingList calls channel.pairing.list.
func (c *Client) PairingList(ctx context.Context, p ChannelParams) (PairingListResult, error) {
	var r PairingListResult
	err := c.Call(ctx, MethodPairingList, p, &r)
	return r, err
}

// PairingApprove calls channel.pairing.approve.
func (c *Client) PairingApprove(ctx context.Context, p PairingDecisionParams) (PairingResolvedEvent, error) {
	var r PairingResolvedEvent
	err := c.Call(ctx, MethodPairingApprove, p, &r)
	return r, err
}

// PairingDeny calls channel.pairing.deny.
func (c *Client) PairingDeny(ctx context.Context, p PairingDecisionParams) (PairingResolvedEvent, error) {
	var r PairingResolvedEvent
	err := c.Call(ctx, MethodPairingDeny, p, &r)
	return r, err
}
