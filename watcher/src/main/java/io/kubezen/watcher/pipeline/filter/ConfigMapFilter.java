package io.kubezen.watcher.pipeline.filter;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code FILTER_CONFIGMAP}: the global filter from key {@code filter.yaml} of a ConfigMap, watched
 * and hot-reloaded like the file of {@link FilterReloader}: {@link #start} fails when the
 * ConfigMap, its key or its content is missing or invalid; afterwards a valid change replaces the
 * filter ({@link FilterReloader.Listener#onLoaded}), an invalid change or a deleted ConfigMap keeps
 * the last good filter ({@link FilterReloader.Listener#onInvalid}), reported once per distinct
 * content. {@link #current()} is what the pipeline's {@code Supplier<Filter>} reads.
 */
public final class ConfigMapFilter implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ConfigMapFilter.class);
  public static final String KEY = "filter.yaml";

  private final KubernetesClient client;
  private final String namespace;
  private final String name;
  private final FilterReloader.Listener listener;
  private final Object lock = new Object();
  private volatile Filter current;
  private volatile String currentHash;
  private String lastSeen;
  private SharedIndexInformer<ConfigMap> informer;

  public ConfigMapFilter(
      KubernetesClient client, String namespace, String name, FilterReloader.Listener listener) {
    this.client = Objects.requireNonNull(client, "client");
    this.namespace = Objects.requireNonNull(namespace, "namespace");
    this.name = Objects.requireNonNull(name, "name");
    this.listener = Objects.requireNonNull(listener, "listener");
  }

  /**
   * From the setting: {@code name} (in {@code defaultNamespace}, the pod's) or {@code
   * namespace/name}.
   *
   * @throws IllegalArgumentException when the setting is not of that form
   */
  public static ConfigMapFilter of(
      KubernetesClient client,
      String setting,
      String defaultNamespace,
      FilterReloader.Listener listener) {
    String s = setting == null ? "" : setting.strip();
    String[] parts = s.split("/", -1);
    java.util.regex.Pattern dns =
        java.util.regex.Pattern.compile("^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$");
    if (parts.length > 2
        || s.isEmpty()
        || !dns.matcher(parts[parts.length - 1]).matches()
        || (parts.length == 2 && !dns.matcher(parts[0]).matches())) {
      throw new IllegalArgumentException(
          "FILTER_CONFIGMAP: '" + setting + "' is not <name> or <namespace>/<name>");
    }
    return parts.length == 2
        ? new ConfigMapFilter(client, parts[0], parts[1], listener)
        : new ConfigMapFilter(client, defaultNamespace, parts[0], listener);
  }

  public String describe() {
    return "ConfigMap " + namespace + "/" + name + " key " + KEY;
  }

  /** The filter in force. @throws IllegalStateException before {@link #start()} */
  public Filter current() {
    Filter f = current;
    if (f == null) {
      throw new IllegalStateException("filter " + describe() + " not started");
    }
    return f;
  }

  public String currentHash() {
    return currentHash;
  }

  /** Loads the filter and starts watching the ConfigMap. */
  public void start() throws FilterConfigException {
    synchronized (lock) {
      if (informer != null) {
        return;
      }
      ConfigMap cm;
      try {
        cm = client.configMaps().inNamespace(namespace).withName(name).get();
      } catch (KubernetesClientException e) {
        throw new FilterConfigException(
            "filter " + describe() + ": cannot read: " + e.getMessage(), e);
      }
      if (cm == null) {
        throw new FilterConfigException("filter " + describe() + ": ConfigMap not found");
      }
      String text = cm.getData() == null ? null : cm.getData().get(KEY);
      if (text == null) {
        throw new FilterConfigException(
            "filter " + describe() + ": the ConfigMap has no key " + KEY);
      }
      Filter f;
      try {
        f = Filter.parse(text);
      } catch (FilterConfigException e) {
        throw new FilterConfigException("filter " + describe() + ": " + e.getMessage(), e);
      }
      String hash = sha256(text);
      current = f;
      currentHash = hash;
      lastSeen = hash;
      LOG.info("filter {} loaded (sha256 {})", describe(), hash);
      notifyLoaded(f, hash);
      informer =
          client
              .configMaps()
              .inNamespace(namespace)
              .withName(name)
              .inform(
                  new ResourceEventHandler<>() {
                    @Override
                    public void onAdd(ConfigMap obj) {
                      changed(obj);
                    }

                    @Override
                    public void onUpdate(ConfigMap oldObj, ConfigMap newObj) {
                      changed(newObj);
                    }

                    @Override
                    public void onDelete(ConfigMap obj, boolean unknown) {
                      synchronized (lock) {
                        if (!"(deleted)".equals(lastSeen)) {
                          lastSeen = "(deleted)";
                          rejected("ConfigMap deleted");
                        }
                      }
                    }
                  });
    }
  }

  /** Applies a ConfigMap's content. Package-private for tests. */
  void changed(ConfigMap cm) {
    synchronized (lock) {
      String text = cm.getData() == null ? null : cm.getData().get(KEY);
      if (text == null) {
        if (!"(no key)".equals(lastSeen)) {
          lastSeen = "(no key)";
          rejected("the ConfigMap has no key " + KEY);
        }
        return;
      }
      String hash = sha256(text);
      if (hash.equals(lastSeen)) {
        return;
      }
      lastSeen = hash;
      if (hash.equals(currentHash)) {
        LOG.info("filter {} is back to the content in force (sha256 {})", describe(), hash);
        return;
      }
      Filter f;
      try {
        f = Filter.parse(text);
      } catch (FilterConfigException e) {
        rejected(e.getMessage());
        return;
      }
      current = f;
      currentHash = hash;
      LOG.info("filter {} reloaded (sha256 {})", describe(), hash);
      notifyLoaded(f, hash);
    }
  }

  private void rejected(String problem) {
    String message =
        "filter "
            + describe()
            + ": "
            + problem
            + "; keeping the last good config (sha256 "
            + currentHash
            + ")";
    LOG.warn(message);
    try {
      listener.onInvalid(message);
    } catch (RuntimeException e) {
      LOG.error("filter listener failed", e);
    }
  }

  private void notifyLoaded(Filter f, String hash) {
    try {
      listener.onLoaded(f, hash);
    } catch (RuntimeException e) {
      LOG.error("filter listener failed", e);
    }
  }

  @Override
  public void close() {
    synchronized (lock) {
      if (informer != null) {
        informer.stop();
        informer = null;
      }
    }
  }

  private static String sha256(String text) {
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
