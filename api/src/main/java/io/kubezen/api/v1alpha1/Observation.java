package io.kubezen.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonClassDescription;
import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Singular;
import io.fabric8.kubernetes.model.annotation.Version;

/** One normalized security or compliance finding: {@code zen.kube-zen.io/v1alpha1 Observation}. */
@JsonClassDescription(
    "One normalized security or compliance finding, from any source zen-watcher reads (Falco,"
        + " Kubernetes audit, Trivy, Kyverno, kube-bench, Checkov, Kubernetes Warning events, generic webhooks, Ingesters)."
        + " Named <source>-<first 16 hex digits of spec.fingerprint>: the same finding reported again is counted in"
        + " status.count, never duplicated. Created and updated by zen-watcher; deleted by its garbage collector after"
        + " spec.ttlSecondsAfterCreation.")
@Group(Observation.GROUP)
@Version(Observation.VERSION)
@Kind("Observation")
@Plural("observations")
@Singular("observation")
@ShortNames("obs")
@AdditionalPrinterColumn(
    name = "Age",
    jsonPath = ".metadata.creationTimestamp",
    type = AdditionalPrinterColumn.Type.DATE)
public class Observation extends CustomResource<ObservationSpec, ObservationStatus>
    implements Namespaced {
  public static final String GROUP = "zen.kube-zen.io";
  public static final String VERSION = "v1alpha1";
  public static final String API_VERSION = GROUP + "/" + VERSION;

  /**
   * Labels every Observation carries, so that {@code kubectl get obs -l ...} can select on them.
   */
  public static final String LABEL_SOURCE = GROUP + "/source";

  public static final String LABEL_CATEGORY = GROUP + "/category";
  public static final String LABEL_SEVERITY = GROUP + "/severity";

  /**
   * The uid of the watched object (a report, a ConfigMap) an Observation was created from; absent
   * for webhook findings. Lets a source find the Observations of a report to resolve the ones whose
   * finding disappeared.
   */
  public static final String LABEL_ORIGIN_UID = GROUP + "/origin-uid";
}
