package io.kubezen.watcher.source.k8saudit;

import io.kubezen.api.v1alpha1.Category;

/**
 * The findings an audit event can give, in precedence order: when several apply to one event, the
 * first one listed wins (one event gives at most one finding).
 */
public enum AuditType {
  /** A request by {@code system:anonymous} or a member of {@code system:unauthenticated}. */
  ANONYMOUS_ACCESS("anonymous_access", Category.SECURITY),
  /** A request answered 401 or 403. */
  ACCESS_DENIED("access_denied", Category.SECURITY),
  /**
   * A pod created with a privileged container, hostPID/hostNetwork/hostIPC or a hostPath volume.
   */
  PRIVILEGED_POD("privileged_pod", Category.COMPLIANCE),
  /** pods/exec, pods/attach, pods/portforward. */
  POD_EXEC("pod_exec", Category.COMPLIANCE),
  /** A write in rbac.authorization.k8s.io. */
  RBAC_CHANGE("rbac_change", Category.COMPLIANCE),
  /** A write to a Secret, or a read of Secrets by a user outside {@code system:}. */
  SECRET_ACCESS("secret_access", Category.COMPLIANCE),
  /** A delete or deletecollection of anything else. */
  RESOURCE_DELETION("resource_deletion", Category.COMPLIANCE);

  private final String eventType;
  private final Category category;

  AuditType(String eventType, Category category) {
    this.eventType = eventType;
    this.category = category;
  }

  public String eventType() {
    return eventType;
  }

  public Category category() {
    return category;
  }
}
